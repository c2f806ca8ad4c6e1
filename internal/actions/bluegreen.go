package actions

import (
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/service"
)

// AlarmBakeTime is the bake time of a rolling deployment with alarms: the
// longest time one of its alarms takes to fire (EvaluationPeriods periods),
// plus one period, so that a verdict due when the bake time would end still
// reaches the deployment.
func (a *Actions) AlarmBakeTime(alarms *service.DeploymentAlarms) time.Duration {
	if alarms == nil || !alarms.Enable {
		return 0
	}
	var bake time.Duration
	for _, name := range alarms.AlarmNames {
		bake = max(bake, a.alarms[name])
	}
	return bake
}

// checkBlueGreen makes sure the alarms a service names, and the target
// groups and listener rules a blue/green service names, exist.
func (a *Actions) checkBlueGreen(s *service.Service) error {
	c := s.DeploymentConfiguration
	if c.Alarms != nil {
		for i, name := range c.Alarms.AlarmNames {
			if _, ok := a.alarms[name]; !ok {
				return invalid(fmt.Sprintf("deploymentConfiguration.alarms.alarmNames[%d]", i), "no alarm %q (see WithAlarms)", name)
			}
		}
	}
	if !c.Strategy.BlueGreen() {
		// ROLLING registers every task in TargetGroup: production
		// traffic must be there already.
		for i, d := range s.Deployments {
			if d.Alternate && (i == 0 || d.RunningCount+d.PendingCount > 0) {
				return invalid("deploymentConfiguration.strategy", "cannot change to %s while deployment %s serves from the alternate target groups: deploy once more with a blue/green strategy first", c.Strategy, d.ID)
			}
		}
		return nil
	}
	for i, l := range s.LoadBalancers {
		ac := l.AdvancedConfiguration
		path := fmt.Sprintf("loadBalancers[%d].advancedConfiguration.", i)
		if !a.targetGroups[ac.AlternateTargetGroup] {
			return invalid(path+"alternateTargetGroupArn", "no target group %q (see WithTargetGroups)", ac.AlternateTargetGroup)
		}
		if !a.rules[ac.ProductionListenerRule] {
			return invalid(path+"productionListenerRule", "no listener rule %q (see WithListenerRules)", ac.ProductionListenerRule)
		}
		if ac.TestListenerRule != "" && !a.rules[ac.TestListenerRule] {
			return invalid(path+"testListenerRule", "no listener rule %q (see WithListenerRules)", ac.TestListenerRule)
		}
	}
	return nil
}
