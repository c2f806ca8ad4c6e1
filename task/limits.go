package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/stevedore-io/stevedore/errdefs"
	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
)

// ECS's limits on the size of a task definition and on its numbers, which
// ParseDefinition and Validate enforce so that every entry point refuses
// the same inputs. The counts and lengths enforced besides these are
// MaxContainers, MaxPlacementConstraints, MaxExpressionLength and MaxTags.
const (
	// MaxDefinitionBytes is the largest task definition, in bytes of JSON
	// (ECS's "task definition max size" quota, 64 KiB, not adjustable).
	// It also bounds the lists that ECS does not count, such as a
	// container's environment: at most about 2,700 entries fit.
	MaxDefinitionBytes = 64 << 10
	// MaxOverrideBytes is the largest TaskOverride, in bytes of JSON
	// (RunTask: "A total of 8192 characters are allowed for overrides").
	MaxOverrideBytes = 8192
	// MaxEnvironmentFiles is the most environmentFiles of a container
	// ("You can specify up to ten environment files").
	MaxEnvironmentFiles = 10
	// MaxImageLength is the longest image reference ("Up to 255
	// letters ... are allowed").
	MaxImageLength = 255
	// MaxHostnameLength is the longest container hostname: Linux's
	// HOST_NAME_MAX, past which the runtime could not set it.
	MaxHostnameLength = 64
	// MaxContainerCPU is the most cpu units of a container: the largest
	// CPU share value the Linux kernel allows, as ECS documents it.
	MaxContainerCPU = 262144
	// MaxInteger bounds the other numbers of a definition (memory and
	// sizes in MiB, timeouts in seconds): the ECS API types them as
	// 32-bit integers. It keeps every conversion to bytes or to a
	// time.Duration far from overflowing.
	MaxInteger = math.MaxInt32
)

// ErrTooLarge is matched (errors.Is) by the errors of ParseDefinition and
// Validate for a definition larger than MaxDefinitionBytes.
// It matches errdefs.ErrInvalid.
var ErrTooLarge = errdefs.New(errdefs.ErrInvalid, "task definition too large")

// tooLarge states the rule a value of n bytes breaks; n is 0 when the
// size is only known to be past limit.
func tooLarge(n, limit int) string {
	size := strconv.Itoa(n) + " bytes"
	if n == 0 {
		size = "more"
	}
	return fmt.Sprintf("must be at most %d bytes of JSON, is %s", limit, size)
}

// jsonSize returns the size of v's JSON, as ECS counts it (<, > and &
// written as themselves), or ok false when it is past limit (n is 0 when
// it is far past). A cheap walk first makes sure that a value far too
// large is never encoded whole.
func jsonSize(v any, limit int) (n int, ok bool) {
	budget := limit
	if !minSize(reflect.ValueOf(v), &budget) {
		return 0, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, true // not for the size check to report
	}
	n = len(b)
	for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
		n -= 5 * bytes.Count(b, []byte(esc))
	}
	return n, n <= limit
}

// minSize takes from *budget a lower bound of the bytes v takes in JSON,
// and reports whether the budget lasted.
func minSize(v reflect.Value, budget *int) bool {
	switch v.Kind() {
	case reflect.String:
		*budget -= v.Len()
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
			*budget -= v.Len()
			break
		}
		*budget -= v.Len() // a comma or a bracket each
		for i := 0; i < v.Len() && *budget >= 0; i++ {
			minSize(v.Index(i), budget)
		}
	case reflect.Map:
		it := v.MapRange()
		for *budget >= 0 && it.Next() {
			*budget -= 3 // quotes and colon
			minSize(it.Key(), budget)
			minSize(it.Value(), budget)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			minSize(v.Elem(), budget)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField() && *budget >= 0; i++ {
			if v.Type().Field(i).IsExported() {
				minSize(v.Field(i), budget)
			}
		}
	}
	return *budget >= 0
}

// quote and clip cut what errors echo (see package internal/quote).
var (
	quote = quotepkg.Quote
	clip  = quotepkg.Clip
)
