package task_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref      string
		family   string
		revision int
		wantErr  string
	}{
		{ref: "web", family: "web"},
		{ref: "web:3", family: "web", revision: 3},
		{ref: "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:2", family: "web", revision: 2},
		{ref: "arn:stevedore:ecs:local:task-definition/web", family: "web"},
		{ref: "task-definition/web:1", family: "web", revision: 1},
		{ref: "", wantErr: `taskDefinition: empty reference ""`},
		{ref: ":1", wantErr: `taskDefinition: empty reference ":1"`},
		{ref: "arn:aws:ecs:eu-west-1:1:task-definition/", wantErr: `empty reference ""`},
		{ref: "web:", wantErr: `taskDefinition: revision of "web:" must be a positive number`},
		{ref: "web:0", wantErr: `revision of "web:0" must be a positive number`},
		{ref: "web:-1", wantErr: "must be a positive number"},
		{ref: "web:x", wantErr: "must be a positive number"},
		{ref: "web:1:2", wantErr: "must be a positive number"},
		{ref: "arn:aws:ecs:eu-west-1:1:task-definition/web:two", wantErr: `revision of "web:two" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			t.Parallel()
			family, revision, err := task.ParseRef(tt.ref)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, task.ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				var fe *errdefs.FieldError
				require.True(t, errors.As(err, &fe), "a FieldError names the field")
				assert.Equal(t, "taskDefinition", fe.Path)
				assert.Empty(t, family)
				assert.Zero(t, revision)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.family, family)
			assert.Equal(t, tt.revision, revision)
		})
	}
}

// TestParseRefOfRef checks that the reference a definition gives itself
// (family:revision) parses back to it.
func TestParseRefOfRef(t *testing.T) {
	t.Parallel()
	for _, td := range []task.TaskDefinition{{Family: "web", Revision: 1}, {Family: "a-b_c", Revision: 42}} {
		family, revision, err := task.ParseRef(td.Ref())
		require.NoError(t, err)
		assert.Equal(t, td.Family, family)
		assert.Equal(t, td.Revision, revision)
	}
}

func FuzzParseRef(f *testing.F) {
	for _, ref := range []string{"web", "web:3", "arn:aws:ecs:r:1:task-definition/web:2", "", ":", "web:0", "a:b:c"} {
		f.Add(ref)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		family, revision, err := task.ParseRef(ref)
		if err != nil {
			require.ErrorIs(t, err, task.ErrInvalid)
			return
		}
		require.NotEmpty(t, family)
		require.NotContains(t, family, ":")
		require.GreaterOrEqual(t, revision, 0)
		require.True(t, strings.Contains(ref, family))
	})
}
