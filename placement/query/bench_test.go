package query

import "testing"

// benchmarkExprs are the expressions BenchmarkEval times; TestEvalAllocations
// checks that none of them allocates.
var benchmarkExprs = []string{
	"attribute:ecs.instance-type in [m5.large, m5.xlarge]",
	"attribute:ecs.instance-type == t2.*",
	"attribute:ecs.instance-type =~ g2.*",
	"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d",
	"attribute:ecs.availability-zone in [a1, a2, a3, a4, a5, a6, a7, a8, a9, us-east-1a]",
	"not(task:group == database)",
	"task:group in [service:*, family:web]",
	"runningTasksCount <= 1",
	"registeredAt < 2018-03-01",
	"agentVersion >= 1.5.0",
	"agentConnected == true",
	"attribute:slots > 9",
	"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
}

func BenchmarkEval(b *testing.B) {
	for _, expr := range benchmarkExprs {
		e := MustParse(expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Eval(m5)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const expr = "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone in [us-east-1a, us-east-1b] and not(task:group == database)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(expr); err != nil {
			b.Fatal(err)
		}
	}
}
