package network_test

import (
	"fmt"
	"net/netip"

	"github.com/stevedore-io/stevedore/network"
)

func ExampleIPAM() {
	ipam, err := network.NewIPAM(netip.MustParsePrefix("10.88.0.0/29"), &network.MemoryStore{})
	if err != nil {
		panic(err)
	}
	fmt.Println("gateway", ipam.Gateway())
	for _, task := range []string{"web", "db", "web"} {
		addr, _ := ipam.Allocate(task)
		fmt.Println(task, addr)
	}
	_ = ipam.Release("web")
	fmt.Println("free", ipam.Free())
	// Output:
	// gateway 10.88.0.1
	// web 10.88.0.2
	// db 10.88.0.3
	// web 10.88.0.2
	// free 4
}

func ExampleParseIngressRule() {
	rule, err := network.ParseIngressRule("tcp:8000-8080 from 10.0.0.0/8, 192.168.1.7")
	if err != nil {
		panic(err)
	}
	fmt.Println(rule.Protocol, rule.FromPort, rule.ToPort, rule.Sources)
	fmt.Println(rule)
	_, err = network.ParseIngressRule("tcp:80")
	fmt.Println(err)
	// Output:
	// tcp 8000 8080 [10.0.0.0/8 192.168.1.7/32]
	// tcp:8000-8080 from 10.0.0.0/8,192.168.1.7/32
	// ingressRule: "tcp:80": want PROTOCOL[:PORTS] from PREFIX|GROUP[,PREFIX|GROUP...]
}

func ExampleRequest_Validate() {
	req := network.Request{
		TaskID:       "web-1",
		Mode:         network.ModeAWSVPC,
		PortMappings: []network.PortMapping{{ContainerPort: 80, HostPort: 8080}},
	}
	fmt.Println(req.Validate())
	// Output:
	// portMappings[0].hostPort: 8080: in awsvpc mode the host port is empty or equal to the container port (80)
}

func ExamplePolicyOf() {
	rule := func(s string) network.IngressRule {
		r, err := network.ParseIngressRule(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	web := &network.SecurityGroup{ID: "sg-1", Name: "web"}
	if err := web.AuthorizeIngress([]network.IngressRule{rule("tcp:443 from 0.0.0.0/0")}); err != nil {
		panic(err)
	}
	// A permission the group has already is refused.
	err := web.AuthorizeIngress([]network.IngressRule{rule("tcp:443 from 0.0.0.0/0")})
	fmt.Println(err)
	admin := &network.SecurityGroup{ID: "sg-2", Name: "admin", Rules: []network.IngressRule{rule("tcp:22 from 10.0.0.0/8")}}

	// A task in both groups accepts what either allows.
	for _, r := range network.PolicyOf(web, admin).Rules {
		fmt.Println(r)
	}
	// Output:
	// ingressRules[0].sources[0]: tcp:443 from 0.0.0.0/0 is already authorized
	// tcp:443 from 0.0.0.0/0
	// tcp:22 from 10.0.0.0/8
}

func ExampleResolvePolicy() {
	db := network.NewSecurityGroup("sg-0b", "db", "")
	in, _ := network.ParseIngressRule("tcp:5432 from sg-0a") // from the web group's tasks
	if err := db.AuthorizeIngress([]network.IngressRule{in}); err != nil {
		panic(err)
	}
	// Outbound: only DNS, once the default allow-all rule is revoked.
	out, _ := network.ParseEgressRule("udp:53 to 10.88.0.1")
	if err := db.AuthorizeEgress([]network.EgressRule{out}); err != nil {
		panic(err)
	}
	if err := db.RevokeEgress([]network.EgressRule{network.DefaultEgressRule()}); err != nil {
		panic(err)
	}

	// The caller knows the members of each group.
	members := map[string][]netip.Addr{"sg-0a": {netip.MustParseAddr("10.88.0.7"), netip.MustParseAddr("10.88.0.3")}}
	policy := network.ResolvePolicy(func(id string) []netip.Addr { return members[id] }, db)
	fmt.Println(policy.Rules[0])
	fmt.Println(policy.Egress.Rules[0])
	fmt.Println(db.ReferencedGroups())
	// Output:
	// tcp:5432 from 10.88.0.3/32,10.88.0.7/32
	// udp:53 to 10.88.0.1/32
	// [sg-0a]
}
