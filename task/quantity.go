package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// CPU is a task-level cpu amount as ECS writes it: cpu units ("256") or
// vCPUs ("0.25 vCPU", "1 vcpu"); 1024 units are one vCPU. In JSON it is a
// string, and a number is accepted too. The empty CPU means "not set".
type CPU string

// Units returns the amount in cpu units.
func (c CPU) Units() (int, error) {
	return parseQuantity(string(c), "cpu units", map[string]int{"": 1, "vcpu": 1024})
}

// UnmarshalJSON accepts a string or a number.
func (c *CPU) UnmarshalJSON(data []byte) error {
	s, err := stringOrNumber(data)
	if err == nil && s != nil {
		*c = CPU(*s)
	}
	return err
}

// Memory is a task-level memory amount as ECS writes it: MiB ("512") or
// GB ("1 GB", "0.5GB"). GB here means GiB (1024 MiB), as in ECS; "MiB",
// "MB" and "GiB" are accepted too. In JSON it is a string, and a number is
// accepted too. The empty Memory means "not set".
type Memory string

// MiB returns the amount in MiB.
func (m Memory) MiB() (int, error) {
	return parseQuantity(string(m), "MiB", map[string]int{"": 1, "mb": 1, "mib": 1, "gb": 1024, "gib": 1024})
}

// UnmarshalJSON accepts a string or a number.
func (m *Memory) UnmarshalJSON(data []byte) error {
	s, err := stringOrNumber(data)
	if err == nil && s != nil {
		*m = Memory(*s)
	}
	return err
}

// parseQuantity parses "<number>[ ]<unit>" where unit (case-insensitive)
// is a key of factors. The result must be a whole number of base units.
func parseQuantity(s, base string, factors map[string]int) (int, error) {
	s = strings.TrimSpace(s)
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(s)
	}
	num, unit := s[:end], strings.ToLower(strings.TrimSpace(s[end:]))
	factor, ok := factors[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("%s is not an amount of %s", quote(s), base)
	}
	if unit == "" {
		n, err := strconv.Atoi(num)
		if err != nil || n > math.MaxInt32 {
			if err == nil || errors.Is(err, strconv.ErrRange) {
				return 0, fmt.Errorf("%s is too large", quote(s))
			}
			return 0, fmt.Errorf("%s is not a whole number of %s", quote(s), base)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an amount of %s", quote(s), base)
	}
	x := f * float64(factor)
	if x > math.MaxInt32 {
		return 0, fmt.Errorf("%s is too large", quote(s))
	}
	if r := math.Round(x); math.Abs(x-r) > 1e-6 {
		return 0, fmt.Errorf("%s is not a whole number of %s", quote(s), base)
	}
	return int(math.Round(x)), nil
}

// stringOrNumber returns the text of a JSON string or number; nil for
// null.
func stringOrNumber(data []byte) (*string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return &v, nil
	case json.Number:
		s := v.String()
		return &s, nil
	}
	return nil, fmt.Errorf("want a string or a number, got %s", jsonKind(bytes.TrimSpace(data)))
}
