package ecsapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/service"
)

func TestDeploymentConfigurationInECSUnits(t *testing.T) {
	const js = `{"strategy":"LINEAR","bakeTimeInMinutes":10,` +
		`"linearConfiguration":{"stepPercent":25,"stepBakeTimeInMinutes":2},` +
		`"alarms":{"alarmNames":["errors"],"enable":true,"rollback":true}}`
	var in wireDeploymentConfiguration
	require.NoError(t, json.Unmarshal([]byte(js), &in))
	m, err := in.model()
	require.NoError(t, err)
	assert.Equal(t, service.DeploymentStrategy("LINEAR"), m.Strategy)
	assert.Equal(t, 10*time.Minute, m.BakeTime)
	require.NotNil(t, m.LinearConfiguration)
	assert.Equal(t, 2*time.Minute, m.LinearConfiguration.StepBakeTime)
	assert.Equal(t, []string{"errors"}, m.Alarms.AlarmNames)

	back, err := json.Marshal(wireDeploymentConfig(m))
	require.NoError(t, err)
	assert.JSONEq(t, js, string(back))
}

// A LINEAR or CANARY configuration left empty takes ECS's defaults (a 10%
// step baking 6 minutes, a 5% canary baking 10 minutes), an explicit 0
// bake time stays 0, and a Go bake time under a minute shows rounded up.
func TestTrafficShiftDefaultsAsInECS(t *testing.T) {
	decode := func(js string) service.DeploymentConfiguration {
		t.Helper()
		var in wireDeploymentConfiguration
		require.NoError(t, json.Unmarshal([]byte(js), &in))
		m, err := in.model()
		require.NoError(t, err)
		require.NoError(t, m.Validate(service.Replica), "the defaults are valid")
		return m
	}
	linear := decode(`{"strategy":"LINEAR","bakeTimeInMinutes":5,"linearConfiguration":{}}`)
	assert.Equal(t, service.DefaultStepBakeTime, linear.LinearConfiguration.StepBakeTime)
	assert.Equal(t, 6*time.Minute, linear.LinearConfiguration.StepBakeTime)
	back, err := json.Marshal(wireDeploymentConfig(linear.Effective(service.Replica)))
	require.NoError(t, err)
	assert.Contains(t, string(back), `"linearConfiguration":{"stepPercent":10,"stepBakeTimeInMinutes":6}`)

	canary := decode(`{"strategy":"CANARY","bakeTimeInMinutes":5,"canaryConfiguration":{}}`)
	assert.Equal(t, 10*time.Minute, canary.CanaryConfiguration.CanaryBakeTime)
	back, err = json.Marshal(wireDeploymentConfig(canary))
	require.NoError(t, err)
	assert.Contains(t, string(back), `"canaryConfiguration":{"canaryPercent":5,"canaryBakeTimeInMinutes":10}`)

	zero := decode(`{"strategy":"CANARY","bakeTimeInMinutes":5,"canaryConfiguration":{"canaryPercent":20,"canaryBakeTimeInMinutes":0}}`)
	back, err = json.Marshal(wireDeploymentConfig(zero))
	require.NoError(t, err)
	assert.Contains(t, string(back), `"canaryConfiguration":{"canaryPercent":20,"canaryBakeTimeInMinutes":0}`)

	var in wireDeploymentConfiguration
	require.NoError(t, json.Unmarshal([]byte(`{"strategy":"LINEAR","linearConfiguration":{"stepPercent":0}}`), &in))
	_, err = in.model()
	assert.ErrorContains(t, err, "linearConfiguration.stepPercent")

	short := service.DeploymentConfiguration{Strategy: service.StrategyLinear, BakeTime: 90 * time.Second,
		LinearConfiguration: &service.LinearConfiguration{StepPercent: 50, StepBakeTime: 3 * time.Second}}
	back, err = json.Marshal(wireDeploymentConfig(short))
	require.NoError(t, err)
	assert.JSONEq(t, `{"strategy":"LINEAR","bakeTimeInMinutes":2,"linearConfiguration":{"stepPercent":50,"stepBakeTimeInMinutes":1}}`, string(back))
}

func TestTimestampsAreEpochSeconds(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 250_000_000, time.UTC)
	js, err := json.Marshal(struct {
		At   epoch `json:"at"`
		Zero epoch `json:"zero,omitzero"`
	}{At: epoch(at)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"at": 1796666400.25}`, string(js))

	m := map[string]any{"createdAt": at.Format(time.RFC3339Nano), "containers": []any{map[string]any{"startedAt": at.Format(time.RFC3339Nano)}}, "name": "x"}
	epochs(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{"createdAt": 1796666400.25, "containers": [{"startedAt": 1796666400.25}], "name": "x"}`, string(out))
}
