package service

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fieldPaths returns the paths of the fields err names.
func fieldPaths(t *testing.T, err error) []string {
	t.Helper()
	require.ErrorIs(t, err, ErrInvalid)
	fes := errdefs.FieldErrors(err)
	paths := make([]string, len(fes))
	for i, f := range fes {
		paths[i] = f.Path
	}
	return paths
}

// A DAEMON service rejects what ECS rejects: a desiredCount (it runs one
// task per instance) and a maximumPercent other than 100; its
// minimumHealthyPercent may be anything from 0 to 100. Both were accepted
// before, the desiredCount silently described as 0.
func TestValidateDaemon(t *testing.T) {
	t.Parallel()
	daemon := func(mutate func(*Service)) *Service {
		s := &Service{Name: "agent", TaskDefinition: "agent:1", SchedulingStrategy: Daemon}
		mutate(s)
		return s
	}
	for _, tt := range []struct {
		name   string
		mutate func(*Service)
		want   string // the field refused; "" when valid
	}{
		{"defaults", func(*Service) {}, ""},
		{"minimumHealthyPercent 0", func(s *Service) { s.DeploymentConfiguration = cfg(0, 100) }, ""},
		{"minimumHealthyPercent 50", func(s *Service) { s.DeploymentConfiguration.MinimumHealthyPercent = pct(50) }, ""},
		{"minimumHealthyPercent 100", func(s *Service) { s.DeploymentConfiguration = cfg(100, 100) }, ""},
		{"desiredCount", func(s *Service) { s.DesiredCount = 3 }, "desiredCount"},
		{"negative desiredCount", func(s *Service) { s.DesiredCount = -1 }, "desiredCount"},
		{"maximumPercent 200", func(s *Service) { s.DeploymentConfiguration.MaximumPercent = pct(200) }, "deploymentConfiguration.maximumPercent"},
		{"maximumPercent 101", func(s *Service) { s.DeploymentConfiguration = cfg(0, 101) }, "deploymentConfiguration.maximumPercent"},
		{"maximumPercent 50", func(s *Service) { s.DeploymentConfiguration = cfg(0, 50) }, "deploymentConfiguration.maximumPercent"},
		{"minimumHealthyPercent 101", func(s *Service) { s.DeploymentConfiguration.MinimumHealthyPercent = pct(101) }, "deploymentConfiguration.minimumHealthyPercent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := daemon(tt.mutate).Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, []string{tt.want}, fieldPaths(t, err))
			if strings.HasSuffix(tt.want, "maximumPercent") || tt.want == "desiredCount" {
				assert.Contains(t, err.Error(), "DAEMON")
			}
		})
	}
	// The update path validates the deployment configuration alone too.
	assert.Equal(t, []string{"deploymentConfiguration.maximumPercent"}, fieldPaths(t, cfg(0, 200).Validate(Daemon)))
	// REPLICA keeps its rules.
	require.NoError(t, cfg(50, 200).Validate(Replica))
	assert.Equal(t, []string{"deploymentConfiguration.maximumPercent"}, fieldPaths(t, cfg(50, 99).Validate(Replica)))
}

// Effective fills in the percentages in force, as ECS describes a service,
// and changes nothing in what is stored.
func TestEffectiveDeploymentConfiguration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name             string
		strategy         SchedulingStrategy
		in               DeploymentConfiguration
		wantMin, wantMax int
	}{
		{"replica defaults", Replica, DeploymentConfiguration{}, 100, 200},
		{"daemon defaults", Daemon, DeploymentConfiguration{}, 0, 100},
		{"replica set", Replica, cfg(50, 150), 50, 150},
		{"replica min set", Replica, DeploymentConfiguration{MinimumHealthyPercent: pct(0)}, 0, 200},
		{"daemon min set", Daemon, DeploymentConfiguration{MinimumHealthyPercent: pct(50)}, 50, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.in.clone()
			got := tt.in.Effective(tt.strategy)
			require.NotNil(t, got.MinimumHealthyPercent)
			require.NotNil(t, got.MaximumPercent)
			assert.Equal(t, tt.wantMin, *got.MinimumHealthyPercent)
			assert.Equal(t, tt.wantMax, *got.MaximumPercent)
			assert.Equal(t, before, tt.in, "the configuration itself is unchanged")
			assert.NoError(t, got.Validate(tt.strategy), "what is shown can be sent back")
			lo1, hi1 := tt.in.Bounds(tt.strategy, 7)
			lo2, hi2 := got.Bounds(tt.strategy, 7)
			assert.Equal(t, [2]int{lo1, hi1}, [2]int{lo2, hi2}, "the bounds in force are the same")
		})
	}

	s := Service{Name: "web", SchedulingStrategy: Replica, DeploymentConfiguration: DeploymentConfiguration{
		CircuitBreaker: &CircuitBreaker{Enable: true}}}
	shown := s.Effective()
	assert.Nil(t, s.DeploymentConfiguration.MinimumHealthyPercent, "the service is unchanged")
	assert.Nil(t, s.DeploymentConfiguration.MaximumPercent, "the service is unchanged")
	assert.Equal(t, 100, *shown.DeploymentConfiguration.MinimumHealthyPercent)
	assert.Equal(t, 200, *shown.DeploymentConfiguration.MaximumPercent)
	shown.DeploymentConfiguration.CircuitBreaker.Enable = false
	assert.True(t, s.DeploymentConfiguration.CircuitBreaker.Enable, "a deep copy")
}

// Validation errors quote at most a short prefix of a name: a service name
// of a megabyte came back whole.
func TestValidationQuotesABoundedPrefix(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1<<19) + "!"
	for _, tt := range []struct {
		name   string
		mutate func(*Service)
		path   string
	}{
		{"serviceName", func(s *Service) { s.Name = long }, "serviceName"},
		{"schedulingStrategy", func(s *Service) { s.SchedulingStrategy = SchedulingStrategy(long) }, "schedulingStrategy"},
		{"strategy", func(s *Service) { s.DeploymentConfiguration.Strategy = DeploymentStrategy(long) }, "deploymentConfiguration.strategy"},
		{"alarm", func(s *Service) {
			s.DeploymentConfiguration.Alarms = &DeploymentAlarms{AlarmNames: []string{long, long}}
		}, "deploymentConfiguration.alarms.alarmNames[1]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Service{Name: "web", TaskDefinition: "web:1", SchedulingStrategy: Replica}
			tt.mutate(s)
			err := s.Validate()
			assert.Contains(t, fieldPaths(t, err), tt.path)
			msg := err.Error()
			assert.Less(t, len(msg), 600, "the error echoes the whole name: %.200s", msg)
			assert.Contains(t, msg, "(1048577 bytes)", "the error says how long the name was")
			assert.True(t, utf8.ValidString(msg))
		})
	}
	s := &Service{Name: "a b", TaskDefinition: "web:1", SchedulingStrategy: Replica}
	assert.Contains(t, s.Validate().Error(), `got "a b"`, "a short name is quoted whole")
}
