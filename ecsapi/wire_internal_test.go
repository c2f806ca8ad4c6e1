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
	m := in.model()
	assert.Equal(t, service.DeploymentStrategy("LINEAR"), m.Strategy)
	assert.Equal(t, 10*time.Minute, m.BakeTime)
	require.NotNil(t, m.LinearConfiguration)
	assert.Equal(t, 2*time.Minute, m.LinearConfiguration.StepBakeTime)
	assert.Equal(t, []string{"errors"}, m.Alarms.AlarmNames)

	back, err := json.Marshal(wireDeploymentConfig(m))
	require.NoError(t, err)
	assert.JSONEq(t, js, string(back))
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
