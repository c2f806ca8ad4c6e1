package stevedore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// Security groups decide which inbound connections reach a task: put the
// tasks of an awsvpc task definition in groups with the networkConfiguration
// of RunTask, StartTask, CreateService or UpdateService.
func ExampleOrchestrator_CreateSecurityGroup() {
	ctx := context.Background()
	o, err := stevedore.New()
	if err != nil {
		panic(err)
	}
	defer o.Close()

	https, _ := network.ParseIngressRule("tcp:443 from 0.0.0.0/0")
	g, err := o.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{
		GroupName: "web", Description: "HTTPS from anywhere", IngressRules: []network.IngressRule{https},
	})
	if err != nil {
		panic(err)
	}
	ssh, _ := network.ParseIngressRule("tcp:22 from 10.0.0.0/8")
	if _, err := o.AuthorizeSecurityGroupIngress(ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "web", Rules: []network.IngressRule{ssh}}); err != nil {
		panic(err)
	}
	groups, _ := o.DescribeSecurityGroups(ctx, &stevedore.DescribeSecurityGroupsInput{GroupIDs: []string{g.SecurityGroup.ID}})
	for _, r := range groups.SecurityGroups[0].Rules {
		fmt.Println(groups.SecurityGroups[0].Name, r)
	}

	// Tasks and services name groups by ID or name:
	_ = stevedore.RunTaskInput{Cluster: "prod", TaskDefinition: "web",
		NetworkConfiguration: &task.NetworkConfiguration{
			AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: []string{"web"}},
		}}

	// Bad rules are rejected with the field they are about.
	_, err = o.RevokeSecurityGroupIngress(ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: "web", Rules: []network.IngressRule{{Protocol: "tcp", FromPort: 80}}})
	var fe *stevedore.FieldError
	fmt.Println(errors.Is(err, stevedore.ErrInvalid), errors.As(err, &fe) && fe.Path == "ingressRules[0].sources")
	// Output:
	// web tcp:443 from 0.0.0.0/0
	// web tcp:22 from 10.0.0.0/8
	// true true
}
