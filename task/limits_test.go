package task_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

// manyEnv returns webDef with n environment entries in its first container.
func manyEnv(n int) *task.TaskDefinition {
	td := webDef()
	env := make([]task.KeyValuePair, n)
	for i := range env {
		env[i] = task.KeyValuePair{Name: fmt.Sprintf("VAR_%d", i), Value: "value"}
	}
	td.ContainerDefinitions[0].Environment = env
	return td
}

// fieldErrors returns the "path: message" of each problem of err.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	fes := errdefs.FieldErrors(err)
	require.NotEmpty(t, fes)
	out := make([]string, len(fes))
	for i, fe := range fes {
		out[i] = fe.Path + ": " + fe.Reason
	}
	return out
}

// A definition larger than ECS's 64 KiB is refused by ParseDefinition
// before it is decoded: 200k environment entries cost no more memory than
// the input itself.
func TestParseDefinitionRefusesOversizeInput(t *testing.T) {
	data, err := json.Marshal(manyEnv(200_000))
	require.NoError(t, err)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	td, _, err := task.ParseDefinition(data)
	runtime.ReadMemStats(&after)

	require.Error(t, err)
	assert.Nil(t, td)
	assert.ErrorIs(t, err, task.ErrMalformed)
	assert.ErrorIs(t, err, task.ErrTooLarge)
	assert.Contains(t, err.Error(), "65536")
	assert.Less(t, len(err.Error()), 200, "the error does not echo the input")
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(1<<20), "parsing a %d-byte definition allocated %d bytes", len(data), allocated)

	// Just under the limit is parsed.
	small := manyEnv(1)
	data, err = json.Marshal(small)
	require.NoError(t, err)
	data = append(data, bytes.Repeat([]byte(" "), task.MaxDefinitionBytes-len(data))...)
	_, _, err = task.ParseDefinition(data)
	require.NoError(t, err)
	_, _, err = task.ParseDefinition(append(data, ' '))
	require.ErrorIs(t, err, task.ErrTooLarge)
}

// Validate refuses the same definitions when they are built in Go, so that
// every entry point refuses the same inputs.
func TestValidateRefusesOversizeDefinition(t *testing.T) {
	t.Parallel()
	huge := webDef()
	huge.ContainerDefinitions[0].Environment = []task.KeyValuePair{{Name: "BIG", Value: strings.Repeat("x", task.MaxDefinitionBytes)}}
	for name, td := range map[string]*task.TaskDefinition{
		"many entries": manyEnv(200_000),
		"one value":    huge,
		"extra member": func() *task.TaskDefinition {
			td := webDef()
			td.Extra = map[string]json.RawMessage{"x": json.RawMessage(`"` + strings.Repeat("y", 70_000) + `"`)}
			return td
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := td.Validate()
			require.ErrorIs(t, err, task.ErrInvalid)
			require.ErrorIs(t, err, task.ErrTooLarge)
			got := fieldErrors(t, err)
			require.NotEmpty(t, got)
			assert.Contains(t, got[0], "taskDefinition: must be at most 65536 bytes of JSON")
			assert.Less(t, len(err.Error()), 1024)
		})
	}
	require.NoError(t, manyEnv(100).Validate(), "a definition within the limit")
}

// Each ECS limit on counts, lengths and numbers is one rule with its path.
func TestValidateLimits(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name   string
		change func(td *task.TaskDefinition)
		want   []string
	}{
		{"environment files", func(td *task.TaskDefinition) {
			for range task.MaxEnvironmentFiles + 1 {
				td.ContainerDefinitions[0].EnvironmentFiles = append(td.ContainerDefinitions[0].EnvironmentFiles,
					task.EnvironmentFile{Value: "arn:aws:s3:::b/a.env", Type: "s3"})
			}
		}, []string{"containerDefinitions[0].environmentFiles: must have at most 10 files, has 11"}},
		{"image length", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].Image = long(256)
		}, []string{"containerDefinitions[0].image: must be at most 255 characters"}},
		{"image length at the limit", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].Image = long(255)
		}, nil},
		{"hostname length", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].Hostname = long(65)
		}, []string{"containerDefinitions[0].hostname: must be at most 64 characters"}},
		{"container cpu", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].CPU = task.MaxContainerCPU + 1
		}, []string{"containerDefinitions[0].cpu: must be between 0 and 262144 cpu units"}},
		{"container memory that would wrap in bytes", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].Memory = 1<<44 + 1
		}, []string{"containerDefinitions[0].memory: must be between 6 and 2147483647 MiB"}},
		{"container memory reservation", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[1].MemoryReservation = math.MaxInt
		}, []string{"containerDefinitions[1].memoryReservation: must be between 6 and 2147483647 MiB"}},
		{"sum of container cpu", func(td *task.TaskDefinition) {
			td.CPU = "1024"
			for i := range td.ContainerDefinitions {
				td.ContainerDefinitions[i].CPU = task.MaxContainerCPU
			}
		}, []string{"cpu: must be at least the sum of the containers' cpu (524288 units)"}},
		{"start timeout beyond a duration", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].StartTimeoutSeconds = ptr(math.MaxInt64 / 1000)
		}, []string{"containerDefinitions[0].startTimeout: must be between 0 and 2147483647 seconds"}},
		{"linux parameters in MiB", func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].LinuxParameters = &task.LinuxParameters{
				SharedMemorySize: math.MaxInt32 + 1,
				MaxSwap:          ptr(math.MaxInt),
				Tmpfs:            []task.Tmpfs{{ContainerPath: "/tmp", Size: 1 << 50}},
			}
		}, []string{
			"containerDefinitions[0].linuxParameters.sharedMemorySize: must be between 0 and 2147483647 MiB",
			"containerDefinitions[0].linuxParameters.tmpfs[0].size: must be between 1 and 2147483647 MiB",
			"containerDefinitions[0].linuxParameters.maxSwap: must be between 0 and 2147483647 MiB",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			td := webDef()
			tt.change(td)
			err := td.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, fieldErrors(t, err))
		})
	}
}

// Errors quote at most a short prefix of what they were given.
func TestErrorsEchoABoundedPrefix(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("<", 50_000)
	withBig := []func(td *task.TaskDefinition){
		func(td *task.TaskDefinition) { td.Family = big },
		func(td *task.TaskDefinition) { td.CPU = task.CPU(big) },
		func(td *task.TaskDefinition) { td.Memory = task.Memory(strings.Repeat("9", 50_000)) },
		func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].LinuxParameters = &task.LinuxParameters{Capabilities: &task.KernelCapabilities{Add: []string{big}}}
		},
		func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].MountPoints = []task.MountPoint{{SourceVolume: big, ContainerPath: "/x"}}
		},
		func(td *task.TaskDefinition) {
			td.ContainerDefinitions[0].DependsOn = []task.ContainerDependency{{ContainerName: big, Condition: task.ConditionStart}}
		},
		func(td *task.TaskDefinition) { td.ContainerDefinitions[0].Links = []string{"sidecar:" + big} },
	}
	for i, change := range withBig {
		td := webDef()
		change(td)
		err := td.Validate()
		require.Error(t, err, "case %d", i)
		assert.Less(t, len(err.Error()), 1024, "case %d: %.300s", i, err)
	}

	for name, doc := range map[string]string{
		"timestamp":     `{"registeredAt":"` + big + `"}`,
		"unknown field": `{"` + big + `":1}`,
		"type":          `{"family":["` + big + `"]}`,
		"number":        `{"revision":` + strings.Repeat("1", 50_000) + `}`,
		"container cpu": `{"containerDefinitions":[{"cpu":` + strings.Repeat("9", 50_000) + `}]}`,
	} {
		td, warnings, err := task.ParseDefinition([]byte(doc))
		if err != nil {
			assert.Less(t, len(err.Error()), 1024, "%s: %.300s", name, err)
			continue
		}
		require.NotNil(t, td)
		for _, w := range warnings {
			assert.Less(t, len(w.String()), 1024, "%s: %.300s", name, w)
		}
	}
	_, err := task.CPU(big).Units()
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 1024)
	assert.True(t, errors.Is(webDefWithFamily(big).Validate(), task.ErrInvalid))
}

func webDefWithFamily(f string) *task.TaskDefinition {
	td := webDef()
	td.Family = f
	return td
}

// The durations of a definition that was never validated saturate rather
// than wrap to a negative time.
func TestDurationsDoNotWrap(t *testing.T) {
	t.Parallel()
	huge := math.MaxInt64 / 1000
	c := task.ContainerDefinition{StartTimeoutSeconds: ptr(huge), StopTimeoutSeconds: ptr(huge)}
	start, ok := c.StartTimeout()
	require.True(t, ok)
	assert.Equal(t, time.Duration(math.MaxInt64), start)
	assert.Equal(t, time.Duration(math.MaxInt64), c.StopTimeout())
	hc := task.HealthCheck{IntervalSeconds: huge, TimeoutSeconds: -huge, StartPeriodSeconds: huge}
	assert.Equal(t, time.Duration(math.MaxInt64), hc.Interval())
	assert.Equal(t, time.Duration(math.MinInt64), hc.Timeout())
	assert.Equal(t, time.Duration(math.MaxInt64), hc.StartPeriod())
	c.StopTimeoutSeconds = ptr(7)
	assert.Equal(t, 7*time.Second, c.StopTimeout())
}

// Overrides are held to ECS's RunTask rules when applied, so that every
// entry point refuses the same: cpu that made the task's requirement
// overflow to a negative amount (which fits every instance), and
// environments too large to apply in reasonable time.
func TestOverridesAreBounded(t *testing.T) {
	t.Parallel()
	td := webDef()
	td.ContainerDefinitions[1].CPU = 10
	overflow := &task.TaskOverride{ContainerOverrides: []task.ContainerOverride{{Name: "app", CPU: ptr(math.MaxInt)}}}
	_, err := task.NewTask("t", td, overflow, t0)
	require.ErrorIs(t, err, task.ErrInvalid)
	assert.Equal(t, []string{"overrides.containerOverrides[0].cpu: must be between 0 and 262144 cpu units"}, fieldErrors(t, err))

	env := make([]task.KeyValuePair, 20_000)
	for i := range env {
		env[i] = task.KeyValuePair{Name: fmt.Sprintf("V%d", i), Value: "x"}
	}
	big := &task.TaskOverride{ContainerOverrides: []task.ContainerOverride{{Name: "app", Environment: env}}}
	_, err = big.Apply(td)
	require.ErrorIs(t, err, task.ErrInvalid)
	require.ErrorIs(t, err, task.ErrTooLarge)
	assert.Contains(t, err.Error(), "overrides: must be at most 8192 bytes of JSON")

	for name, o := range map[string]*task.TaskOverride{
		"memory":        {ContainerOverrides: []task.ContainerOverride{{Name: "app", Memory: ptr(1<<44 + 1)}}},
		"reservation":   {ContainerOverrides: []task.ContainerOverride{{Name: "app", MemoryReservation: ptr(-1)}}},
		"task cpu":      {CPU: "1000000"},
		"task memory":   {Memory: "1"},
		"nameless":      {ContainerOverrides: []task.ContainerOverride{{CPU: ptr(1)}}},
		"unparsed size": {Memory: "lots"},
	} {
		_, err := o.Apply(td)
		assert.ErrorIs(t, err, task.ErrInvalid, name)
	}
	ok := &task.TaskOverride{CPU: "1 vCPU", Memory: "2 GB", ContainerOverrides: []task.ContainerOverride{{Name: "app", CPU: ptr(512), Memory: ptr(0)}}}
	require.NoError(t, ok.Validate())
	_, err = ok.Apply(td)
	require.NoError(t, err)
}
