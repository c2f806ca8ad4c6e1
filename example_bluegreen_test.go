package stevedore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// A LINEAR blue/green deployment behind package lb: two target groups, a
// production and a test forward action weighing them (a listener serves
// each, see lb.Listener.SetDefaultForward), and an alarm on a metric that
// rolls a deployment back when it breaches.
func ExampleWithListenerRules() {
	blue, _ := lb.NewTargetGroup("web-a", lb.HTTP)
	green, _ := lb.NewTargetGroup("web-b", lb.HTTP)
	defer blue.Close()
	defer green.Close()
	weighted := []lb.WeightedTargetGroup{{TargetGroup: blue, Weight: 1000}, {TargetGroup: green, Weight: 0}}
	prod, _ := lb.NewForwardAction("web-prod", weighted...)
	test, _ := lb.NewForwardAction("web-test", weighted...)

	errorRate := func(context.Context) (float64, error) { return 0.2, nil } // your metrics here
	o, err := stevedore.New(
		stevedore.WithTargetGroups(blue, green),
		stevedore.WithListenerRules(prod, test),
		stevedore.WithAlarms(stevedore.Alarm{
			Name: "error-rate", Metric: errorRate, Comparison: stevedore.GreaterThanThreshold, Threshold: 1,
			Period: time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2,
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer o.Close()
	ctx := context.Background()
	_, _ = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "prod"})
	td, _, _ := task.ParseDefinition([]byte(`{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "web", "image": "web:1", "memory": 128,
			"portMappings": [{"containerPort": 8080}]}]}`))
	_, _ = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})

	cfg := service.DeploymentConfiguration{
		Strategy: service.StrategyLinear, BakeTime: 10 * time.Minute,
		LinearConfiguration: &service.LinearConfiguration{StepPercent: 25, StepBakeTime: 5 * time.Minute},
		Alarms:              &service.DeploymentAlarms{AlarmNames: []string{"error-rate"}, Enable: true, Rollback: true},
	}
	svc, err := o.CreateService(ctx, &stevedore.CreateServiceInput{
		Cluster: "prod", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
		DeploymentConfiguration: cfg,
		LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-a", ContainerName: "web", ContainerPort: 8080,
			AdvancedConfiguration: &service.AdvancedConfiguration{
				AlternateTargetGroup: "web-b", ProductionListenerRule: "web-prod", TestListenerRule: "web-test",
			}}},
	})
	fmt.Println(svc.Service.DeploymentConfiguration.Strategy, err)

	// Alarms must be registered with WithAlarms.
	cfg.Alarms = &service.DeploymentAlarms{AlarmNames: []string{"latency"}, Enable: true}
	_, err = o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: "prod", Service: "web", DeploymentConfiguration: &cfg})
	fmt.Println(err)
	// Output:
	// LINEAR <nil>
	// deploymentConfiguration.alarms.alarmNames[0]: no alarm "latency" (see WithAlarms)
}
