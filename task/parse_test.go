package task_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return data
}

func TestParseDefinitionDescribeOutput(t *testing.T) {
	t.Parallel()
	td, warnings, err := task.ParseDefinition(readTestdata(t, "describe-output.json"))
	require.NoError(t, err)
	assert.Empty(t, warnings)

	assert.Equal(t, "hello", td.Family)
	assert.Equal(t, 7, td.Revision)
	assert.Equal(t, task.DefinitionActive, td.Status)
	assert.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:task-definition/hello:7", td.TaskDefinitionARN)
	assert.Equal(t, []string{"EXTERNAL", "EC2"}, td.Compatibilities)
	assert.Equal(t, "arn:aws:iam::123456789012:user/ops", td.RegisteredBy)
	assert.Equal(t, time.Date(2024, 5, 10, 12, 22, 1, 123000000, time.UTC), td.RegisteredAt)
	assert.Equal(t, []task.Tag{{Key: "env", Value: "staging"}}, td.Tags, "the wrapper's tags move into the definition")
	require.Len(t, td.ContainerDefinitions, 1)
	c := td.ContainerDefinitions[0]
	assert.Nil(t, c.PortMappings, "an empty list parses as nil")
	assert.Nil(t, c.Environment)
	assert.Equal(t, 128, c.CPU)
	assert.True(t, c.IsEssential())
}

func TestParseDefinitionShapesAgree(t *testing.T) {
	t.Parallel()
	bare := `{"family":"web","containerDefinitions":[{"name":"app","image":"nginx","memory":64}],"tags":[{"key":"a","value":"1"}]}`
	described := `{"taskDefinition":{"family":"web","containerDefinitions":[{"name":"app","image":"nginx","memory":64}]},"tags":[{"key":"a","value":"1"}]}`
	a, _, err := task.ParseDefinition([]byte(bare))
	require.NoError(t, err)
	b, _, err := task.ParseDefinition([]byte(described))
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// A top-level family marks a bare definition: members named like another
// form are then unknown members, kept, and json.Marshal writes them so that
// they read back the same.
func TestParseDefinitionFamilyMarksBare(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`{"family":"web","taskDefinition":{"family":"other"}}`,
		`{"family":"web","Type":"AWS::ECS::TaskDefinition","Properties":{"family":"other"}}`,
		`{"family":"web","Family":"other"}`,
	} {
		td, warnings, err := task.ParseDefinition([]byte(data))
		require.NoError(t, err, data)
		assert.Equal(t, "web", td.Family, data)
		assert.NotEmpty(t, td.Extra, data)
		assert.Len(t, warnings, len(td.Extra), data)

		td.Family = "" // json.Marshal must still mark it bare
		b, err := json.Marshal(td)
		require.NoError(t, err)
		again, _, err := task.ParseDefinition(b)
		require.NoError(t, err)
		assert.Equal(t, td, again, "round trip through %s", b)
	}
}

func TestParseDefinitionDescribeTagsMerge(t *testing.T) {
	t.Parallel()
	data := `{"taskDefinition":{"family":"web","tags":[{"key":"env","value":"own"}]},
		"tags":[{"key":"env","value":"wrapper"},{"key":"team","value":"x"}]}`
	td, _, err := task.ParseDefinition([]byte(data))
	require.NoError(t, err)
	assert.Equal(t, []task.Tag{{Key: "env", Value: "own"}, {Key: "team", Value: "x"}}, td.Tags)
}

func TestParseDefinitionKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	td, warnings, err := task.ParseDefinition(readTestdata(t, "unknown-fields.json"))
	require.NoError(t, err)

	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{
		"ephemeralStorage: ECS field not supported by Stevedore, kept as is",
		"someNewTaskField: unknown field, kept as is",
		"containerDefinitions[0].Image: unknown field, kept as is",
		"containerDefinitions[0].fooBar: unknown field, kept as is",
		"containerDefinitions[0].restartPolicy: ECS field not supported by Stevedore, kept as is",
		"containerDefinitions[0].portMappings[0].containerPortRange: ECS field not supported by Stevedore, kept as is",
		"containerDefinitions[0].portMappings[0].weight: unknown field, kept as is",
		"containerDefinitions[0].healthCheck.mystery: unknown field, kept as is",
	}, got)
	assert.Equal(t, warnings, td.UnknownFields(), "UnknownFields lists the same for a bare definition")

	// Member names match exactly: "Image" did not set the image.
	c := td.ContainerDefinitions[0]
	assert.Equal(t, "example/app:3", c.Image)
	assert.JSONEq(t, `"typo/with-capital:1"`, string(c.Extra["Image"]))

	// The kept members are written back.
	b, err := json.Marshal(td)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	assert.Equal(t, map[string]any{"sizeInGiB": 30.0}, generic["ephemeralStorage"])
	container := generic["containerDefinitions"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{1.0, 2.0, 3.0}, container["fooBar"])
	assert.Equal(t, "example/app:3", container["image"])
	assert.Equal(t, "typo/with-capital:1", container["Image"])
	assert.Equal(t, "<&>", container["healthCheck"].(map[string]any)["mystery"])
	assertRoundTrip(t, td)
}

func TestUnmarshalJSONKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	var c task.ContainerDefinition
	require.NoError(t, json.Unmarshal([]byte(`{"name":"a","linuxParameters":{"initProcessEnabled":true,"x":1}}`), &c))
	assert.True(t, c.LinuxParameters.InitProcessEnabled)
	assert.JSONEq(t, `1`, string(c.LinuxParameters.Extra["x"]))

	var td task.TaskDefinition
	require.NoError(t, json.Unmarshal([]byte(`{"family":"f","containerDefinitions":[{"name":"a","y":2}]}`), &td))
	assert.Equal(t, []task.Warning{{Path: "containerDefinitions[0].y", Message: "unknown field, kept as is"}}, td.UnknownFields())
}

func TestParseDefinitionQuantities(t *testing.T) {
	t.Parallel()
	td, _, err := task.ParseDefinition([]byte(`{"family":"f","cpu":256,"memory":"1 GB"}`))
	require.NoError(t, err)
	assert.Equal(t, task.CPU("256"), td.CPU)
	assert.Equal(t, task.Memory("1 GB"), td.Memory)
	b, err := json.Marshal(td)
	require.NoError(t, err)
	assert.JSONEq(t, `{"family":"f","cpu":"256","memory":"1 GB"}`, string(b), "numbers are written back as ECS strings")
}

func TestParseDefinitionTimestamps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want time.Time
	}{
		{`1715343721.5`, time.Date(2024, 5, 10, 12, 22, 1, 500000000, time.UTC)},
		{`1715343721`, time.Date(2024, 5, 10, 12, 22, 1, 0, time.UTC)},
		{`"2024-05-10T14:22:01+02:00"`, time.Date(2024, 5, 10, 12, 22, 1, 0, time.UTC)},
		{`"2024-05-10T12:22:01.25Z"`, time.Date(2024, 5, 10, 12, 22, 1, 250000000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			td, _, err := task.ParseDefinition([]byte(`{"registeredAt":` + tt.raw + `}`))
			require.NoError(t, err)
			assert.Equal(t, tt.want, td.RegisteredAt)
		})
	}
}

func TestParseDefinitionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		data         string
		line, column int
		path         string
		msg          string
	}{
		{name: "empty input", data: ``, line: 1, column: 1, msg: "line 1, column 1: unexpected end of JSON input"},
		{name: "syntax on line 3", data: "{\n  \"family\": \"x\",\n  \"cpu\" 1\n}", line: 3, column: 9},
		{name: "trailing data", data: `{} {}`, line: 1, column: 4},
		{name: "array of numbers", data: `[3]`, path: "containerDefinitions[0]", msg: "want an object, got number"},
		{name: "null", data: `null`, msg: "want a JSON object or an array of container definitions, got null"},
		{name: "string family", data: `{"family": 7}`, path: "family", msg: "family: want a string, got number"},
		{name: "container not object", data: `{"containerDefinitions": [{"name":"a"}, 3]}`, path: "containerDefinitions[1]", msg: "want an object, got number"},
		{name: "nested type", data: `{"containerDefinitions": [{"healthCheck": {"interval": "10s"}}]}`, path: "containerDefinitions[0].healthCheck.interval"},
		{name: "essential string", data: `{"containerDefinitions": [{"essential": "yes"}]}`, path: "containerDefinitions[0].essential", msg: "want a boolean, got string"},
		{name: "cpu bool", data: `{"cpu": true}`, path: "cpu", msg: "want a string or a number, got bool"},
		{name: "label number", data: `{"containerDefinitions": [{"dockerLabels": {"com.example.x": 1}}]}`, path: `containerDefinitions[0].dockerLabels["com.example.x"]`},
		{name: "bad timestamp", data: `{"registeredAt": "soon"}`, path: "registeredAt"},
		{name: "huge timestamp", data: `{"deregisteredAt": 1e300}`, path: "deregisteredAt"},
		{name: "overflow", data: `{"revision": 99999999999999999999}`, path: "revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			td, warnings, err := task.ParseDefinition([]byte(tt.data))
			require.Error(t, err)
			assert.Nil(t, td)
			assert.Nil(t, warnings)
			assert.ErrorIs(t, err, task.ErrMalformed)
			assert.ErrorIs(t, err, errdefs.ErrInvalid, "malformed input is invalid input")
			var perr *task.ParseError
			require.True(t, errors.As(err, &perr), "%T", err)
			assert.Equal(t, tt.line, perr.Line, "line")
			assert.Equal(t, tt.column, perr.Column, "column")
			assert.Equal(t, tt.path, perr.Path, "path")
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestParseDefinitionSkipsByteOrderMark(t *testing.T) {
	t.Parallel()
	td, _, err := task.ParseDefinition([]byte("\xef\xbb\xbf{\"family\":\"bom\"}"))
	require.NoError(t, err)
	assert.Equal(t, "bom", td.Family)
}

func TestQuantities(t *testing.T) {
	t.Parallel()
	cpus := []struct {
		in   task.CPU
		want int
		err  bool
	}{
		{"256", 256, false},
		{" 1024 ", 1024, false},
		{"1 vCPU", 1024, false},
		{"1vcpu", 1024, false},
		{"0.25 vCPU", 256, false},
		{"2 VCPU", 2048, false},
		{"0.125 vCPU", 128, false},
		{"0.1 vCPU", 0, true},
		{"1.5", 0, true},
		{"-256", 0, true},
		{"1 core", 0, true},
		{"vCPU", 0, true},
		{"", 0, true},
		{"1e3", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999 vCPU", 0, true},
	}
	for _, tt := range cpus {
		got, err := tt.in.Units()
		if tt.err {
			assert.Error(t, err, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
	mems := []struct {
		in   task.Memory
		want int
		err  bool
	}{
		{"512", 512, false},
		{"1 GB", 1024, false},
		{"1GB", 1024, false},
		{"0.5 gb", 512, false},
		{"2 GiB", 2048, false},
		{"300 MiB", 300, false},
		{"300 MB", 300, false},
		{"0.3 GB", 0, true},
		{"1 TB", 0, true},
		{"lots", 0, true},
	}
	for _, tt := range mems {
		got, err := tt.in.MiB()
		if tt.err {
			assert.Error(t, err, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
}

// TestParseDefinitionShapesOfOtherTools: Terraform's container_definitions
// (a bare array), CloudFormation's PascalCase resource, and console exports
// full of nulls and empty lists.
func TestParseDefinitionShapesOfOtherTools(t *testing.T) {
	t.Parallel()
	t.Run("terraform container_definitions", func(t *testing.T) {
		td, warnings, err := task.ParseDefinition([]byte(`[{"name": "web", "image": "nginx", "memory": 128,
		  "portMappings": [{"containerPort": 80}]}]`))
		require.NoError(t, err)
		require.Len(t, td.ContainerDefinitions, 1)
		assert.Equal(t, "nginx", td.ContainerDefinitions[0].Image)
		assert.Equal(t, uint16(80), uint16(td.ContainerDefinitions[0].PortMappings[0].ContainerPort))
		assert.Empty(t, td.Family, "the caller names the family")
		require.Len(t, warnings, 1)
		td.Family = "web"
		assert.NoError(t, td.Validate())
	})
	t.Run("cloudformation", func(t *testing.T) {
		td, warnings, err := task.ParseDefinition([]byte(`{"Type": "AWS::ECS::TaskDefinition", "Properties": {
		  "Family": "web", "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
		  "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Essential": true,
		    "PortMappings": [{"ContainerPort": 80, "Protocol": "tcp"}],
		    "Environment": [{"Name": "MODE", "Value": "<prod>"}],
		    "DockerLabels": {"Com.Example.Team": "Web"},
		    "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "G"}},
		    "HealthCheck": {"Command": ["CMD", "true"], "Interval": 10}}],
		  "Volumes": [{"Name": "data", "Host": {"SourcePath": "/srv/data"}},
		    {"Name": "efs", "EFSVolumeConfiguration": {"FilesystemId": "fs-1"}}]}}`))
		require.NoError(t, err)
		assert.Equal(t, "web", td.Family)
		assert.Equal(t, task.NetworkAWSVPC, td.NetworkMode)
		c := td.ContainerDefinitions[0]
		assert.Equal(t, "nginx", c.Image)
		assert.Equal(t, "<prod>", c.Environment[0].Value, "values are data, HTML characters included")
		assert.Equal(t, map[string]string{"Com.Example.Team": "Web"}, c.DockerLabels, "label keys are data")
		assert.Equal(t, "G", c.LogConfiguration.Options["awslogs-group"])
		assert.Equal(t, 10, c.HealthCheck.IntervalSeconds)
		assert.Equal(t, "/srv/data", td.Volumes[0].Host.SourcePath)
		assert.Contains(t, td.Volumes[1].Extra, "efsVolumeConfiguration")
		var msgs []string
		for _, w := range warnings {
			msgs = append(msgs, w.String())
		}
		assert.Contains(t, msgs, "Properties: a CloudFormation AWS::ECS::TaskDefinition resource: its Properties are read")
		assert.NoError(t, td.Validate())
	})
	t.Run("nulls and empty lists say nothing", func(t *testing.T) {
		_, warnings, err := task.ParseDefinition([]byte(`{"family": "web", "ipcMode": null, "inferenceAccelerators": [],
		  "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 64, "credentialSpecs": [],
		    "systemControls": [], "restartPolicy": null, "fooBar": {}}]}`))
		require.NoError(t, err)
		assert.Empty(t, warnings)
	})
}

func TestWindowsDefinitionsAreRefusedOnce(t *testing.T) {
	t.Parallel()
	td, _, err := task.ParseDefinition([]byte(`{"family": "iis", "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
	  "volumes": [{"name": "data", "host": {"sourcePath": "C:\\data"}}],
	  "containerDefinitions": [{"name": "iis", "image": "mcr/iis", "memory": 512,
	    "mountPoints": [{"sourceVolume": "data", "containerPath": "C:/data/"}]}]}`))
	require.NoError(t, err)
	fes := errdefs.FieldErrors(td.Validate())
	require.Len(t, fes, 1)
	assert.Equal(t, "runtimePlatform.operatingSystemFamily", fes[0].Path)
	assert.Contains(t, fes[0].Reason, "Windows containers are not supported")

	td.RuntimePlatform = nil
	err = td.Validate()
	assert.Contains(t, err.Error(), `containerDefinitions[0].mountPoints[0].containerPath: "C:/data/" is a Windows path: Windows containers are not supported`)
}
