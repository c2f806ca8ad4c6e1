package task

import (
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
)

// TaskOverride changes a task definition for one task, as the overrides
// of ECS RunTask.
type TaskOverride struct {
	ContainerOverrides []ContainerOverride `json:"containerOverrides,omitempty"`
	CPU                CPU                 `json:"cpu,omitempty"`
	Memory             Memory              `json:"memory,omitempty"`
	TaskRoleARN        string              `json:"taskRoleArn,omitempty"`
	ExecutionRoleARN   string              `json:"executionRoleArn,omitempty"`
}

// ContainerOverride changes one container definition. Nil fields leave
// the definition's value.
type ContainerOverride struct {
	Name    string   `json:"name"`
	Command []string `json:"command,omitempty"`
	// Environment is merged into the definition's: a variable of the same
	// name is replaced, others are added.
	Environment       []KeyValuePair `json:"environment,omitempty"`
	CPU               *int           `json:"cpu,omitempty"`
	Memory            *int           `json:"memory,omitempty"`
	MemoryReservation *int           `json:"memoryReservation,omitempty"`
}

// Validate checks o against ECS's rules for RunTask overrides: at most
// MaxOverrideBytes of JSON (an error that also matches ErrTooLarge; nothing
// else is checked then), a name for each container override, and cpu and
// memory within the bounds Validate sets for a task definition. The error
// matches ErrInvalid, and the paths of its *errdefs.FieldError values
// start with "overrides".
func (o *TaskOverride) Validate() error {
	if o == nil {
		return nil
	}
	v := &validator{}
	if n, ok := jsonSize(o, MaxOverrideBytes); !ok {
		v.errs = append(v.errs, &errdefs.FieldError{Path: "overrides", Reason: tooLarge(n, MaxOverrideBytes), Err: ErrTooLarge})
		return newInvalid("", v.errs)
	}
	if o.CPU != "" {
		if n, err := o.CPU.Units(); err != nil {
			v.add("overrides.cpu", "%v", err)
		} else {
			v.inRange("overrides.cpu", n, MinTaskCPU, MaxTaskCPU, " cpu units")
		}
	}
	if o.Memory != "" {
		if n, err := o.Memory.MiB(); err != nil {
			v.add("overrides.memory", "%v", err)
		} else {
			v.inRange("overrides.memory", n, MinMemoryMiB, MaxInteger, " MiB")
		}
	}
	for i, co := range o.ContainerOverrides {
		p := indexPath("overrides.containerOverrides", i)
		v.required(p+".name", co.Name)
		if co.CPU != nil {
			v.inRange(p+".cpu", *co.CPU, 0, MaxContainerCPU, " cpu units")
		}
		// 0 takes the definition's limit away.
		if co.Memory != nil && *co.Memory != 0 {
			v.inRange(p+".memory", *co.Memory, MinMemoryMiB, MaxInteger, " MiB")
		}
		if co.MemoryReservation != nil && *co.MemoryReservation != 0 {
			v.inRange(p+".memoryReservation", *co.MemoryReservation, MinMemoryMiB, MaxInteger, " MiB")
		}
	}
	return newInvalid("", v.errs)
}

// Apply returns a copy of td with the overrides applied; td is not
// changed, and a nil o gives a plain copy. Overrides that break a rule of
// Validate are refused with its error, so that every entry point refuses
// the same overrides; a container override naming no container of td is
// an error matching ErrUnknownContainer. Apply does not validate the
// result.
func (o *TaskOverride) Apply(td *TaskDefinition) (*TaskDefinition, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	out := td.Clone()
	if o == nil {
		return out, nil
	}
	if o.CPU != "" {
		out.CPU = o.CPU
	}
	if o.Memory != "" {
		out.Memory = o.Memory
	}
	if o.TaskRoleARN != "" {
		out.TaskRoleARN = o.TaskRoleARN
	}
	if o.ExecutionRoleARN != "" {
		out.ExecutionRoleARN = o.ExecutionRoleARN
	}
	for _, co := range o.ContainerOverrides {
		c := out.Container(co.Name)
		if c == nil {
			return nil, fmt.Errorf("container override %s: %w", quote(co.Name), ErrUnknownContainer)
		}
		if co.Command != nil {
			c.Command = append([]string(nil), co.Command...)
		}
		for _, kv := range co.Environment {
			c.setEnv(kv)
		}
		if co.CPU != nil {
			c.CPU = *co.CPU
		}
		if co.Memory != nil {
			c.Memory = *co.Memory
		}
		if co.MemoryReservation != nil {
			c.MemoryReservation = *co.MemoryReservation
		}
	}
	return out, nil
}

// setEnv replaces the variable named kv.Name, or adds kv.
func (c *ContainerDefinition) setEnv(kv KeyValuePair) {
	for i := range c.Environment {
		if c.Environment[i].Name == kv.Name {
			c.Environment[i].Value = kv.Value
			return
		}
	}
	c.Environment = append(c.Environment, KeyValuePair{Name: kv.Name, Value: kv.Value})
}
