// Package query implements the cluster query language of Amazon ECS: the
// expressions of memberOf placement constraints, which select the container
// instances a task may be placed on.
//
//	e, err := query.Parse("attribute:ecs.instance-type =~ t2.* and not(task:group == database)")
//	if err != nil {
//		return fmt.Errorf("placement constraint: %w", err)
//	}
//	if e.Eval(instance) { // instance implements query.Target
//		...
//	}
//
// Parse does all the work that can be done once (regular expressions,
// wildcards, lists, numbers, dates and versions are compiled there) and
// returns an immutable *Expr that any number of goroutines may evaluate at
// once. Eval only compares: it does not allocate, and the common
// expressions take tens of nanoseconds (see BenchmarkEval).
//
// # Grammar
//
// In EBNF, with keywords and operator words matched without regard to case:
//
//	expression = or .
//	or         = and { ( "or" | "||" ) and } .
//	and        = unary { ( "and" | "&&" ) unary } .
//	unary      = ( "not" | "!" ) unary | "(" expression ")" | condition .
//	condition  = subject operator [ argument ] .
//	subject    = "agentConnected" | "agentVersion" | "attribute:" name
//	           | "ec2InstanceId" | "instanceId" | "registeredAt"
//	           | "runningTasksCount" | "task:group" .
//	name       = namechar { namechar } .
//	namechar   = letter | digit | "." | "-" | "_" | "/" | "\" | ":" .
//	operator   = "==" | "equals" | "!=" | "not_equals"
//	           | ">" | "greater_than" | ">=" | "greater_than_equal"
//	           | "<" | "less_than" | "<=" | "less_than_equal"
//	           | "exists" | "!exists" | "not_exists"
//	           | "in" | "!in" | "not_in"
//	           | "=~" | "matches" | "!~" | "not_matches" .
//	argument   = value | list .
//	list       = "[" [ value { "," value } ] "]" .
//	value      = word | quoted .
//	quoted     = "'" { char } "'" | `"` { char } `"` .
//
// Precedence is the usual one: not binds tighter than and, which binds
// tighter than or; parentheses group. exists and !exists take no argument,
// in and !in take a list, every other operator takes one value. Spaces are
// needed only where two words would otherwise run together:
// runningTasksCount==1&&task:group==web is a valid expression. An
// expression is at most MaxLength (2000) characters long, as in ECS.
//
// A word is a run of characters up to a space, a parenthesis, a bracket, a
// comma, && or ||. After =~ and !~ a word may also hold brackets, commas and
// balanced parentheses, so that x =~ (a|b)[0-9]+ needs no quotes. Quoted
// values may hold anything; inside them a backslash escapes the quote and
// itself, and is kept as it is before any other character, so
// 't2\..*' is the regular expression t2\..*.
//
// # Subjects
//
//	Subject             Reads                         Operators
//	agentConnected      Target.AgentConnected         == != in !in =~ !~
//	agentVersion        Target.AgentVersion           == != > >= < <= in !in =~ !~
//	attribute:<name>    Target.Attribute(name)        all
//	ec2InstanceId       Target.InstanceID             == != in !in =~ !~
//	registeredAt        Target.RegisteredAt           == != > >= < <=
//	runningTasksCount   Target.RunningTasksCount      == != > >= < <=
//	task:group          Target.HasTaskGroup           == != in !in =~ !~ exists !exists
//
// instanceId is accepted as another name for ec2InstanceId. An operator
// outside a subject's list is an error at Parse (ErrSemantic).
//
// # Operators and values
//
// == and != compare strings exactly (case matters), except that * in the
// value matches any run of characters: attribute:ecs.instance-type == t2.*
// selects every t2 instance. in and !in do the same against each value of
// the list.
//
// =~ and !~ take a regular expression that must match the whole value, as
// Java's Matcher.matches does in ECS: attribute:ecs.instance-type =~ t2
// does not match t2.small. The syntax is Go's (RE2): no backreferences or
// lookaround, which ECS's Java syntax has. A regular expression that
// compiles to more than about 1000 instructions is refused, since it would
// slow down every placement.
//
// >, >=, < and <= depend on the subject:
//
//   - runningTasksCount compares integers.
//   - agentVersion compares versions part by part as numbers (1.14.5 >
//     1.5.0); missing parts count as 0, and a leading v and a suffix from the
//     first - or + are ignored. An instance whose version does not parse
//     matches no ordering. == and != on agentVersion stay string
//     comparisons, as in ECS.
//   - registeredAt takes a date in one of the forms ECS documents:
//     2018-06-18, 2018-06-18T22:28:28 (UTC), 2018-06-18T22:28:28Z or
//     2018-06-18T22:28:28+00:00 (any offset). A date stands for the whole
//     day and a timestamp for the whole second, so registeredAt ==
//     2018-06-18 holds for an instance registered at noon that day,
//     registeredAt < 2018-06-18 means before that day and registeredAt <=
//     2018-06-18 means before the day after.
//   - attribute:<name> compares numerically when both the value and the
//     argument are decimal numbers (10 > 9), and byte-wise as strings
//     otherwise (m5.large > c5.large). ECS leaves this unspecified.
//
// agentConnected takes true or false (in any case); =~ and !~ see the
// strings "true" and "false".
//
// # Missing attributes and task groups
//
// exists holds when the instance has the attribute, whatever its value,
// and !exists when it lacks it. Every other comparison on a missing
// attribute is false, the negated ones included: as in ECS,
// attribute:stack != prod selects the instances that have a stack
// attribute whose value is not prod. Write not(attribute:stack == prod) to
// also select instances without the attribute.
//
// task:group is about the groups of the tasks on the instance (tasks
// desired RUNNING). task:group == web holds when at least one of them is in
// group web; in and =~ likewise. The negated operators are the negation of
// the positive ones: task:group != web holds when no task on the instance
// is in group web, so it is the same as not(task:group == web), the
// anti-affinity ECS documents. (Reading it as "some task is in a group other
// than web" would hold on nearly every busy instance and be of no use.)
// task:group exists holds when the instance runs any task at all.
//
// # Canonical form, dynamic expressions and subjects
//
// String returns a canonical form: symbolic operators, the documented
// spelling of subjects, single spaces, quotes only where needed, minimal
// parentheses (and always after not). It parses back to an expression that
// evaluates the same; it may be longer than the text it came from.
//
// Dynamic reports whether the expression reads task:group or
// runningTasksCount. Those change as tasks are placed during a placement
// round, so a dynamic expression must be evaluated again for each task;
// any other expression depends only on the instance and may be evaluated
// once per instance and cached. Subjects lists what an expression reads,
// for messages such as "no instance has attribute:gpu-type".
//
// # Errors
//
// Parse returns one of three kinds of error, all matching ErrInvalid:
//
//   - *SyntaxError (ErrSyntax): the text is not in the grammar, such as an
//     unknown subject, a missing operator or an unclosed parenthesis. Pos is
//     a byte offset counted from 0.
//   - *SemanticError (ErrSemantic): the text parses but means nothing, such
//     as runningTasksCount =~ 1, runningTasksCount == x, a malformed date or
//     version, or an invalid regular expression (then Err holds the regexp
//     error).
//   - ErrTooLong: the expression is longer than MaxLength characters.
//
// The messages say where and what:
//
//	_, err := query.Parse("attribute:ecs.instance-type foo t2.small")
//	var syn *query.SyntaxError
//	if errors.As(err, &syn) {
//		// syn.Pos == 28, syn.Found == "foo", and err.Error() is
//		// query: at position 28: expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~), found "foo"
//	}
package query
