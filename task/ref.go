package task

import (
	"strconv"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
)

// ParseRef parses a reference to a task definition: "family" (its latest
// ACTIVE revision; revision is then 0), "family:revision", or an ARN that
// ends in "task-definition/family[:revision]". The family is not checked
// against the naming rules: a reference to a family that cannot exist
// simply finds nothing. Errors are an *errdefs.FieldError at the path
// "taskDefinition", which matches ErrInvalid.
func ParseRef(ref string) (family string, revision int, err error) {
	if i := strings.LastIndex(ref, "task-definition/"); i >= 0 {
		ref = ref[i+len("task-definition/"):]
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	if family == "" {
		return "", 0, refError("empty reference %q", ref)
	}
	if !hasRev {
		return family, 0, nil
	}
	revision, err = strconv.Atoi(rev)
	if err != nil || revision < 1 {
		return "", 0, refError("revision of %q must be a positive number", ref)
	}
	return family, revision, nil
}

func refError(format string, args ...any) error {
	return errdefs.Invalid("taskDefinition", format, args...)
}
