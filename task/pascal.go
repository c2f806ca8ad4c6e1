package task

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// cloudFormationProperties returns the Properties of a CloudFormation
// AWS::ECS::TaskDefinition resource.
func cloudFormationProperties(top map[string]json.RawMessage) (json.RawMessage, bool) {
	var typ string
	if json.Unmarshal(top["Type"], &typ) != nil || typ != "AWS::ECS::TaskDefinition" {
		return nil, false
	}
	props, ok := top["Properties"]
	return props, ok
}

// isPascalCase reports whether a definition's top level is written with
// PascalCase member names and none of the ECS API's own.
func isPascalCase(top map[string]json.RawMessage) bool {
	pascal := false
	for _, k := range []string{"Family", "ContainerDefinitions", "TaskDefinition"} {
		if _, ok := top[k]; ok {
			pascal = true
		}
		if _, ok := top[camelCase(k)]; ok {
			return false
		}
	}
	return pascal
}

// camelCaseMembers rewrites the member names of a PascalCase document in
// camelCase, leaving the keys of user data maps (labels, options) alone.
func camelCaseMembers(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers pass through exactly
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(camelize(v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dataMaps are the members whose object values are user data: their keys
// are kept as written.
var dataMaps = map[string]bool{
	"dockerLabels": true,
	"options":      true, // logConfiguration, firelensConfiguration
	"driverOpts":   true,
	"labels":       true,
}

func camelize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			name := camelCase(k)
			if m, ok := val.(map[string]any); ok && dataMaps[name] {
				out[name] = m
				continue
			}
			out[name] = camelize(val)
		}
		return out
	case []any:
		for i := range v {
			v[i] = camelize(v[i])
		}
		return v
	}
	return v
}

// pascalExceptions are the names whose camelCase is not the PascalCase one
// with its first letter lowered.
var pascalExceptions = map[string]string{
	"EFSVolumeConfiguration":                  "efsVolumeConfiguration",
	"FSxWindowsFileServerVolumeConfiguration": "fsxWindowsFileServerVolumeConfiguration",
}

// camelCase lowers the first letter of a PascalCase member name.
func camelCase(name string) string {
	if c, ok := pascalExceptions[name]; ok {
		return c
	}
	r, size := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError || !unicode.IsUpper(r) {
		return name
	}
	return string(unicode.ToLower(r)) + name[size:]
}
