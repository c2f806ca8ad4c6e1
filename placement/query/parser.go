package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What the parser looked for, as SyntaxError.Expected says it.
const (
	expectSubject   = "a subject (agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount, task:group)"
	expectAttribute = `an attribute name after "attribute:"`
	expectOperator  = "an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~)"
	expectValue     = "a value"
	expectList      = "a list such as [a, b]"
	expectListNext  = `"," or "]"`
	expectClose     = `"and", "or" or ")"`
	expectEnd       = `"and", "or" or end of expression`
)

// foundMax is how much of the offending text a SyntaxError quotes.
const foundMax = 24

// parser is a recursive-descent parser working directly on the text:
// how an argument is scanned depends on the operator before it (a regular
// expression may hold parentheses), so there is no separate token stream.
type parser struct {
	src string
	pos int
}

func parse(src string) (node, error) {
	p := &parser{src: src}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.syntaxError(p.pos, expectEnd)
	}
	return root, nil
}

func (p *parser) syntaxError(pos int, expected string) error {
	return &SyntaxError{Pos: pos, Expected: expected, Found: p.foundAt(pos)}
}

// foundAt returns the token at pos for an error message: one delimiter, or
// a run of other characters, shortened to foundMax bytes.
func (p *parser) foundAt(pos int) string {
	if pos >= len(p.src) {
		return ""
	}
	rest := p.src[pos:]
	if strings.HasPrefix(rest, "&&") || strings.HasPrefix(rest, "||") {
		return rest[:2]
	}
	if isDelimiter(rest[0]) {
		return rest[:1]
	}
	end := 0
	for end < len(rest) && !isSpace(rest[end]) && !isDelimiter(rest[end]) {
		end++
	}
	if end == 0 { // a lone quote
		_, size := utf8.DecodeRuneInString(rest)
		end = size
	}
	if end > foundMax {
		end = foundMax
		for end > 0 && !utf8.RuneStart(rest[end]) {
			end--
		}
		return rest[:end] + "..."
	}
	return rest[:end]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isDelimiter(c byte) bool {
	return c == '(' || c == ')' || c == '[' || c == ']' || c == ','
}

// isSubjectChar reports whether c can be part of a subject: ECS attribute
// names hold letters, digits, dots, hyphens, underscores and slashes (both
// ways); the colon is in attribute: and task:group.
func isSubjectChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == '/' || c == '\\' || c == ':'
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// acceptKeyword consumes a case-insensitive keyword (and, or, not) when it
// stands alone, or one of its symbols (&&, ||, !).
func (p *parser) acceptKeyword(word, symbol string) bool {
	rest := p.src[p.pos:]
	if strings.HasPrefix(rest, symbol) {
		p.pos += len(symbol)
		return true
	}
	if len(rest) >= len(word) && strings.EqualFold(rest[:len(word)], word) &&
		(len(rest) == len(word) || !isSubjectChar(rest[len(word)])) {
		p.pos += len(word)
		return true
	}
	return false
}

// parseOr: or = and { ("or" | "||") and } .
func (p *parser) parseOr() (node, error) {
	var terms []node
	for {
		x, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if or, ok := x.(*orNode); ok {
			terms = append(terms, or.terms...)
		} else {
			terms = append(terms, x)
		}
		p.skipSpace()
		if !p.acceptKeyword("or", "||") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &orNode{terms: terms}, nil
}

// parseAnd: and = unary { ("and" | "&&") unary } .
func (p *parser) parseAnd() (node, error) {
	var terms []node
	for {
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if and, ok := x.(*andNode); ok {
			terms = append(terms, and.terms...)
		} else {
			terms = append(terms, x)
		}
		p.skipSpace()
		if !p.acceptKeyword("and", "&&") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &andNode{terms: terms}, nil
}

// parseUnary: unary = ("not" | "!") unary | "(" or ")" | condition .
func (p *parser) parseUnary() (node, error) {
	p.skipSpace()
	if p.acceptKeyword("not", "!") {
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	}
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		p.pos++
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.syntaxError(p.pos, expectClose)
		}
		p.pos++
		return x, nil
	}
	return p.parseCondition()
}

// parseCondition: condition = subject operator [ argument ] .
func (p *parser) parseCondition() (node, error) {
	c := &condition{}
	if err := p.parseSubject(c); err != nil {
		return nil, err
	}
	p.skipSpace()
	opPos := p.pos
	op, ok := p.scanOperator()
	if !ok {
		return nil, p.syntaxError(opPos, expectOperator)
	}
	c.op = op
	if allowed := allowedOps[c.subject]; !allowed.has(op) {
		return nil, &SemanticError{
			Pos:     opPos,
			Subject: c.subjectString(),
			Reason:  fmt.Sprintf("operator %s is not supported (use %s)", op, allowed),
		}
	}
	switch op {
	case opExists, opNotExists:
		return c, c.compile(nil)
	case opIn, opNotIn:
		p.skipSpace()
		values, positions, err := p.parseList()
		if err != nil {
			return nil, err
		}
		c.list = true
		c.args = values
		return c, c.compile(positions)
	}
	p.skipSpace()
	argPos := p.pos
	v, err := p.parseValue(op == opMatches || op == opNotMatches)
	if err != nil {
		return nil, err
	}
	c.args = []string{v}
	return c, c.compile([]int{argPos})
}

func (p *parser) parseSubject(c *condition) error {
	start := p.pos
	for p.pos < len(p.src) && isSubjectChar(p.src[p.pos]) {
		p.pos++
	}
	word := p.src[start:p.pos]
	if len(word) >= len(attributePrefix) && strings.EqualFold(word[:len(attributePrefix)], attributePrefix) {
		c.subject = subjectAttribute
		c.name = word[len(attributePrefix):]
		if c.name == "" {
			p.skipSpace()
			return p.syntaxError(p.pos, expectAttribute)
		}
		return nil
	}
	s, ok := subjectNames[strings.ToLower(word)]
	if !ok {
		return p.syntaxError(start, expectSubject)
	}
	c.subject = s
	return nil
}

// symbolicOperators are tried in order, longer spellings first.
var symbolicOperators = []string{"!exists", "!in", "==", "!=", "=~", "!~", ">=", "<=", ">", "<"}

func (p *parser) scanOperator() (operator, bool) {
	rest := p.src[p.pos:]
	for _, s := range symbolicOperators {
		if !strings.HasPrefix(rest, s) {
			continue
		}
		if isWordChar(s[len(s)-1]) && len(rest) > len(s) && isWordChar(rest[len(s)]) {
			continue // !index is not !in followed by dex
		}
		p.pos += len(s)
		return operatorSpellings[s], true
	}
	end := 0
	for end < len(rest) && isWordChar(rest[end]) {
		end++
	}
	op, ok := operatorSpellings[strings.ToLower(rest[:end])]
	if !ok || end == 0 {
		return 0, false
	}
	p.pos += end
	return op, true
}

// parseList: list = "[" [ value { "," value } ] "]" .
func (p *parser) parseList() (values []string, positions []int, err error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '[' {
		return nil, nil, p.syntaxError(p.pos, expectList)
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return []string{}, nil, nil
	}
	for {
		p.skipSpace()
		positions = append(positions, p.pos)
		v, err := p.parseListItem()
		if err != nil {
			return nil, nil, err
		}
		values = append(values, v)
		p.skipSpace()
		if p.pos < len(p.src) {
			switch p.src[p.pos] {
			case ',':
				p.pos++
				continue
			case ']':
				p.pos++
				return values, positions, nil
			}
		}
		return nil, nil, p.syntaxError(p.pos, expectListNext)
	}
}

func (p *parser) parseListItem() (string, error) {
	if p.pos < len(p.src) && (p.src[p.pos] == '\'' || p.src[p.pos] == '"') {
		return p.parseQuoted()
	}
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if isSpace(c) || isDelimiter(c) {
			break
		}
		p.pos++
	}
	if p.pos == start {
		return "", p.syntaxError(start, expectValue)
	}
	return p.src[start:p.pos], nil
}

// parseValue scans a quoted string or a bare word. A bare word ends at a
// space, a delimiter, && or ||; for a regular expression (regexp true) it
// may hold brackets, commas and balanced parentheses, so that
// not(x =~ a(b|c)) reads as expected.
func (p *parser) parseValue(regexp bool) (string, error) {
	if p.pos < len(p.src) && (p.src[p.pos] == '\'' || p.src[p.pos] == '"') {
		return p.parseQuoted()
	}
	start := p.pos
	depth := 0
scan:
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case isSpace(c):
			break scan
		case depth == 0 && (strings.HasPrefix(p.src[p.pos:], "&&") || strings.HasPrefix(p.src[p.pos:], "||")):
			break scan
		case regexp && c == '(':
			depth++
		case regexp && c == ')':
			if depth == 0 {
				break scan
			}
			depth--
		case regexp && (c == '[' || c == ']' || c == ','):
		case isDelimiter(c):
			break scan
		}
		p.pos++
	}
	if p.pos == start {
		return "", p.syntaxError(start, expectValue)
	}
	return p.src[start:p.pos], nil
}

// parseQuoted reads a string in single or double quotes. A backslash
// escapes the quote and itself; before any other character it is kept, so
// that regular expressions such as 't2\..*' need no doubling.
func (p *parser) parseQuoted() (string, error) {
	start := p.pos
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == quote || p.src[p.pos+1] == '\\'):
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", &SyntaxError{Pos: start, Expected: "a closing " + strconv.Quote(string(quote)) + " for the string that starts here", Found: ""}
}
