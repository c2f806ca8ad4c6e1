package task

import "fmt"

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

// Apply returns a copy of td with the overrides applied; td is not
// changed, and a nil o gives a plain copy. A container override naming no
// container of td is an error matching ErrUnknownContainer. Apply does
// not validate the result.
func (o *TaskOverride) Apply(td *TaskDefinition) (*TaskDefinition, error) {
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
