package task

// This file holds the JSON machinery shared by every struct of a task
// definition: decoding that matches member names exactly, keeps unknown
// members in the struct's Extra field and names the JSON path of any type
// error; encoding that writes the Extra members back; and the walk that
// lists the kept members as warnings.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
)

// extraField is the name of the field that holds unknown members.
const extraField = "Extra"

var (
	extraType = reflect.TypeFor[map[string]json.RawMessage]()
	timeType  = reflect.TypeFor[time.Time]()
)

// objectFields describes how a struct type maps to JSON members.
type objectFields struct {
	names []string       // JSON names in field order
	index map[string]int // JSON name -> field index
	extra int            // index of the Extra field, -1 if none
}

var fieldCache sync.Map // reflect.Type -> *objectFields

// fieldsOf returns the JSON members of struct type t.
func fieldsOf(t reflect.Type) *objectFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*objectFields)
	}
	f := &objectFields{index: map[string]int{}, extra: -1}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Name == extraField && sf.Type == extraType {
			f.extra = i
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" || name == "" {
			continue
		}
		f.names = append(f.names, name)
		f.index[name] = i
	}
	fieldCache.Store(t, f)
	return f
}

// isObject reports whether values of type t are decoded member by member,
// keeping unknown members.
func isObject(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && fieldsOf(t).extra >= 0
}

// decodeObjectJSON is the UnmarshalJSON of every object type: v is a
// pointer to the struct.
func decodeObjectJSON(data []byte, v any) error {
	if err := checkSyntax(data); err != nil {
		return err
	}
	return decodeValue("", data, reflect.ValueOf(v).Elem())
}

// decodeValue decodes raw, which is valid JSON, into v. path names raw in
// errors.
func decodeValue(path string, raw json.RawMessage, v reflect.Value) error {
	if isNull(raw) {
		v.SetZero()
		return nil
	}
	t := v.Type()
	switch {
	case t == timeType:
		tm, err := decodeTime(raw)
		if err != nil {
			return &ParseError{Path: path, Err: err}
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	case isObject(t):
		return decodeObject(path, raw, v)
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := decodeValue(path, raw, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return typeError(path, t, err)
		}
		if len(items) == 0 {
			v.SetZero() // [] and absent mean the same
			return nil
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			if err := decodeValue(indexPath(path, i), item, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return typeError(path, t, err)
		}
		if len(members) == 0 {
			v.SetZero()
			return nil
		}
		m := reflect.MakeMapWithSize(t, len(members))
		for _, k := range sortedKeys(members) {
			e := reflect.New(t.Elem()).Elem()
			if err := decodeValue(keyPath(path, k), members[k], e); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
		return nil
	default:
		p := reflect.New(t)
		if err := json.Unmarshal(raw, p.Interface()); err != nil {
			return typeError(path, t, err)
		}
		v.Set(p.Elem())
		return nil
	}
}

// decodeObject decodes a JSON object into struct v, matching member names
// exactly (encoding/json would also match "Name" to "name") and keeping
// unknown members in v's Extra field.
func decodeObject(path string, raw json.RawMessage, v reflect.Value) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return typeError(path, v.Type(), err)
	}
	v.SetZero()
	f := fieldsOf(v.Type())
	// Known fields in struct order, so that the first error is always the
	// same one.
	for _, name := range f.names {
		if m, ok := members[name]; ok {
			if err := decodeValue(fieldPath(path, name), m, v.Field(f.index[name])); err != nil {
				return err
			}
		}
	}
	var extra map[string]json.RawMessage
	for _, k := range sortedKeys(members) {
		if _, known := f.index[k]; known {
			continue
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		canon, err := json.Marshal(members[k])
		if err != nil {
			return &ParseError{Path: fieldPath(path, k), Err: err}
		}
		// Stored as json.Marshal writes it, so that a parse after a
		// marshal gives the same bytes.
		extra[k] = canon
	}
	if extra != nil {
		v.Field(f.extra).Set(reflect.ValueOf(extra))
	}
	return nil
}

// marshalObject is the MarshalJSON of every object type: plain is the
// value converted to a type without methods, extra its Extra field.
// Members of extra that a field already writes are skipped.
func marshalObject(plain any, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(plain)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	known := fieldsOf(reflect.TypeOf(plain)).index
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1]) // drop the closing brace
	first := len(b) == 2    // "{}"
	for _, k := range sortedKeys(extra) {
		if _, ok := known[k]; ok {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(k)
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// unknownFields appends a warning for every Extra member under v.
func unknownFields(path string, v reflect.Value, out []Warning) []Warning {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = unknownFields(path, v.Elem(), out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = unknownFields(indexPath(path, i), v.Index(i), out)
		}
	case reflect.Struct:
		if !isObject(v.Type()) {
			return out
		}
		f := fieldsOf(v.Type())
		extra := v.Field(f.extra).Interface().(map[string]json.RawMessage)
		for _, k := range sortedKeys(extra) {
			if isEmptyJSON(extra[k]) {
				continue // null, [] or {}: says nothing, so not worth a warning
			}
			msg := "unknown field, kept as is"
			if unsupportedECSFields[k] {
				msg = "ECS field not supported by Stevedore, kept as is"
			}
			out = append(out, Warning{Path: fieldPath(path, k), Message: msg})
		}
		for _, name := range f.names {
			out = unknownFields(fieldPath(path, name), v.Field(f.index[name]), out)
		}
	}
	return out
}

// isEmptyJSON reports whether raw is null, an empty array or an empty
// object, as exports from the console are full of.
func isEmptyJSON(raw json.RawMessage) bool {
	switch string(bytes.Join(bytes.Fields(raw), nil)) {
	case "null", "[]", "{}":
		return true
	}
	return false
}

// unsupportedECSFields are ECS task definition members that Stevedore
// keeps but does not act on; their warnings say so instead of calling them
// unknown.
var unsupportedECSFields = map[string]bool{
	"proxyConfiguration":                      true,
	"inferenceAccelerators":                   true,
	"ephemeralStorage":                        true,
	"enableFaultInjection":                    true,
	"containerPortRange":                      true,
	"dockerSecurityOptions":                   true,
	"credentialSpecs":                         true,
	"restartPolicy":                           true,
	"versionConsistency":                      true,
	"efsVolumeConfiguration":                  true,
	"fsxWindowsFileServerVolumeConfiguration": true,
	"configuredAtLaunch":                      true,
	"deleteRequested":                         true,
}

// decodeTime accepts an RFC 3339 string (what the AWS CLI prints) or a
// number of seconds since the Unix epoch (what the ECS API sends).
func decodeTime(raw json.RawMessage) (time.Time, error) {
	var t time.Time
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return t, err
		}
		var err error
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return t, fmt.Errorf("timestamp %s is not RFC 3339", quote(s))
		}
	} else {
		var secs float64
		if err := json.Unmarshal(raw, &secs); err != nil {
			return t, fmt.Errorf("want a timestamp string or seconds since the epoch, got %s", jsonKind(raw))
		}
		// Within years 0 to 9999, which RFC 3339 can write back.
		if secs < -62167219200 || secs >= 253402300800 {
			return t, fmt.Errorf("timestamp %s is out of range", clip(string(raw)))
		}
		whole, frac := math.Modf(secs)
		t = time.Unix(int64(whole), int64(math.Round(frac*1e9)))
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("timestamp %s is out of range", clip(string(raw)))
	}
	return t, nil
}

// checkSyntax reports malformed JSON with its line and column.
func checkSyntax(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &ParseError{Err: err}
	}
	line, col := position(data, se.Offset)
	return &ParseError{Line: line, Column: col, Err: se}
}

// position turns the offset of a json.SyntaxError (the number of bytes
// read when the error was found) into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	off := max(int(offset)-1, 0)
	off = min(off, len(data))
	prefix := data[:off]
	line = bytes.Count(prefix, []byte{'\n'}) + 1
	col = off - (bytes.LastIndexByte(prefix, '\n') + 1) + 1
	return line, col
}

// typeError turns a decoding error of raw into a ParseError naming path
// and the expected JSON type.
func typeError(path string, t reflect.Type, err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return &ParseError{Path: path, Err: fmt.Errorf("want %s, got %s", describeType(t), clip(ute.Value))}
	}
	return &ParseError{Path: path, Err: err}
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// jsonKind names the JSON type of a valid raw value.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func fieldPath(path, name string) string {
	if !isIdentifier(name) || len(name) > quotepkg.MaxBytes {
		return keyPath(path, name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func keyPath(path, key string) string {
	return path + "[" + quote(key) + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
