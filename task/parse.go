package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/stevedore-io/stevedore/errdefs"
)

// ErrMalformed is matched (errors.Is) by every error of ParseDefinition:
// input that is not JSON, or JSON of the wrong shape.
// It matches errdefs.ErrInvalid.
var ErrMalformed = errdefs.New(errdefs.ErrInvalid, "malformed task definition JSON")

// ParseError is malformed input: a syntax error with its position, or a
// value of the wrong JSON type with its path.
type ParseError struct {
	// Path is the JSON path of the offending value, as in
	// "containerDefinitions[0].cpu"; empty for syntax errors.
	Path string
	// Line and Column (1-based, in bytes) locate a syntax error; both are
	// 0 for other errors.
	Line, Column int
	// Err is the underlying error.
	Err error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Column, e.Err)
	case e.Path != "":
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns ErrMalformed (which matches errdefs.ErrInvalid) and the
// underlying error.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Warning is a problem that does not stop a parse: an unknown field, kept
// as is, or a member of describe output that is not part of a task
// definition, ignored.
type Warning struct {
	// Path is the JSON path of the member in the parsed document.
	Path    string
	Message string
}

// String returns "path: message".
func (w Warning) String() string { return w.Path + ": " + w.Message }

// utf8BOM is skipped at the start of the input: some editors write it.
var utf8BOM = []byte("\xef\xbb\xbf")

// ParseDefinition parses a task definition in any of the shapes people
// keep them in:
//
//   - a bare task definition, as in register-task-definition input (with
//     or without "tags");
//   - the output of describe-task-definition,
//     {"taskDefinition": {...}, "tags": [...]}, whose tags are merged into
//     the definition (the definition's own tags win on equal keys);
//   - a bare array of container definitions, as Terraform's
//     container_definitions and the CLI's --container-definitions hold
//     them: the result has only ContainerDefinitions, and the caller sets
//     the family and the task-level fields;
//   - any of these with PascalCase member names, as CloudFormation and
//     several SDKs write them ("Family", "ContainerDefinitions",
//     "PortMappings"), and a CloudFormation resource
//     {"Type": "AWS::ECS::TaskDefinition", "Properties": {...}}. The names
//     are read as the ECS API's camelCase; the keys of dockerLabels, log
//     and FireLens options, and volume driver options and labels are data
//     and stay as they are.
//
// A document with a top-level "family" member is always read as a bare
// camelCase task definition, never as describe output, a CloudFormation
// resource or PascalCase: json.Marshal of a TaskDefinition whose Extra
// holds a member named like one of those forms writes "family" (even
// empty) for that reason, so that ParseDefinition reads it back the same.
//
// Output-only members of describe output (taskDefinitionArn, revision,
// status, registeredAt, ...) are kept in their fields. Unknown members, at
// any depth, are kept in the Extra field of the struct they belong to, so
// that they are written back by json.Marshal, and each is reported as a
// Warning naming its path in data ("containerDefinitions[0].fooBar", or
// "taskDefinition.containerDefinitions[0].fooBar" in describe output).
//
// Otherwise member names match exactly, as in the ECS API: "Image" in a
// camelCase definition is not "image" (it is kept and reported as
// unknown). An empty list or object means the
// same as an absent one and is parsed as nil.
//
// Errors are *ParseError and match ErrMalformed: syntax errors carry their
// line and column, type errors their path. Input longer than
// MaxDefinitionBytes is refused before it is decoded, with an error that
// also matches ErrTooLarge. ParseDefinition does not validate otherwise;
// call Validate on the result.
func ParseDefinition(data []byte) (*TaskDefinition, []Warning, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(data) > MaxDefinitionBytes {
		return nil, nil, fmt.Errorf("parse task definition: %w", &ParseError{Err: fmt.Errorf("%w: %s", ErrTooLarge, tooLarge(len(data), MaxDefinitionBytes))})
	}
	if err := checkSyntax(data); err != nil {
		return nil, nil, fmt.Errorf("parse task definition: %w", err)
	}
	var warnings []Warning
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		// Terraform's container_definitions and the CLI's
		// --container-definitions: the containers alone.
		data = slices.Concat([]byte(`{"containerDefinitions":`), trimmed, []byte(`}`))
		warnings = append(warnings, Warning{Path: "", Message: "a bare array of container definitions: the task's family and other fields are to be set before registering"})
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		err := &ParseError{Err: fmt.Errorf("want a JSON object or an array of container definitions, got %s", jsonKind(bytes.TrimSpace(data)))}
		return nil, nil, fmt.Errorf("parse task definition: %w", err)
	}
	_, bare := top["family"]
	if props, ok := cloudFormationProperties(top); ok && !bare {
		data = props
		if err := json.Unmarshal(data, &top); err != nil || top == nil {
			err := &ParseError{Err: fmt.Errorf("Properties: want a JSON object")}
			return nil, nil, fmt.Errorf("parse task definition: %w", err)
		}
		warnings = append(warnings, Warning{Path: "Properties", Message: "a CloudFormation AWS::ECS::TaskDefinition resource: its Properties are read"})
	}
	if isPascalCase(top) {
		camel, err := camelCaseMembers(data)
		if err != nil {
			return nil, nil, fmt.Errorf("parse task definition: %w", &ParseError{Err: err})
		}
		data = camel
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, nil, fmt.Errorf("parse task definition: %w", &ParseError{Err: err})
		}
		warnings = append(warnings, Warning{Path: "", Message: "member names in PascalCase (CloudFormation, the SDKs) read as the ECS API's camelCase"})
	}

	root, body := "", json.RawMessage(data)
	inner, describeOutput := top["taskDefinition"]
	describeOutput = describeOutput && !bare && jsonKind(inner) == "object"
	if describeOutput {
		root, body = "taskDefinition", inner
		for _, k := range sortedKeys(top) {
			if k != "taskDefinition" && k != "tags" {
				warnings = append(warnings, Warning{Path: fieldPath("", k), Message: "not part of the task definition, ignored"})
			}
		}
	}

	td := new(TaskDefinition)
	if err := decodeValue(root, body, reflect.ValueOf(td).Elem()); err != nil {
		return nil, nil, fmt.Errorf("parse task definition: %w", err)
	}
	warnings = unknownFields(root, reflect.ValueOf(td).Elem(), warnings)

	if raw, ok := top["tags"]; ok && describeOutput {
		var tags []Tag
		if err := decodeValue("tags", raw, reflect.ValueOf(&tags).Elem()); err != nil {
			return nil, nil, fmt.Errorf("parse task definition: %w", err)
		}
		warnings = unknownFields("tags", reflect.ValueOf(tags), warnings)
		td.Tags = mergeTags(td.Tags, tags)
	}
	return td, warnings, nil
}

// UnknownFields lists the members kept in Extra fields anywhere in td,
// with their JSON paths: the warnings ParseDefinition reports for a bare
// definition. Use it after decoding with json.Unmarshal.
func (td *TaskDefinition) UnknownFields() []Warning {
	return unknownFields("", reflect.ValueOf(td).Elem(), nil)
}

// mergeTags appends to own the tags of more whose keys own lacks.
func mergeTags(own, more []Tag) []Tag {
	have := make(map[string]bool, len(own))
	for _, t := range own {
		have[t.Key] = true
	}
	for _, t := range more {
		if !have[t.Key] {
			own = append(own, t)
			have[t.Key] = true
		}
	}
	return own
}
