package ecsapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task/policy"
)

// Error is an error in ECS's shape: its Type is the "__type" of the answer
// (ClientException, ClusterNotFoundException, ...), Status its HTTP
// status.
type Error struct {
	Type    string
	Message string
	Status  int
}

// Error returns the type and the message.
func (e *Error) Error() string { return e.Type + ": " + e.Message }

func clientError(typ, format string) *Error {
	return &Error{Type: typ, Message: format, Status: http.StatusBadRequest}
}

// The errors of the protocol and of its authentication.
var (
	errMissingAuth   = &Error{Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token", Status: http.StatusForbidden}
	errIncompleteSig = func(msg string) *Error {
		return &Error{Type: "IncompleteSignatureException", Message: msg, Status: http.StatusBadRequest}
	}
	errUnknownKey = &Error{Type: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest}
	errSignature  = &Error{Type: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.", Status: http.StatusForbidden}
	errStale      = &Error{Type: "InvalidSignatureException", Message: "Signature expired: the request's date is more than 15 minutes away from the server's time.", Status: http.StatusForbidden}
	errTooLarge   = &Error{Type: "RequestEntityTooLargeException", Message: "Request body too large.", Status: http.StatusRequestEntityTooLarge}
)

// toError maps an error of the Orchestrator to ECS's error of action, by
// its kind (package errdefs): an object not found is its ECS exception
// (ClusterNotFoundException, ServiceNotFoundException, ...), an invalid
// input or one that exists already InvalidParameterException, an object in
// use ClientException (or the ClusterContains... exception of
// DeleteCluster); an error of no kind is ServerException.
func toError(action string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var nf *stevedore.NotFoundError
	switch {
	case errors.As(err, &nf):
		switch nf.Kind {
		case "cluster":
			return clientError("ClusterNotFoundException", "Cluster not found.")
		case "service":
			return clientError("ServiceNotFoundException", "Service not found.")
		case "task definition":
			return clientError("ClientException", "Unable to describe task definition.")
		case "task":
			return clientError("InvalidParameterException", "The referenced task was not found.")
		default:
			return clientError("InvalidParameterException", err.Error())
		}
	case errors.Is(err, stevedore.ErrServiceNotActive):
		return clientError("ServiceNotActiveException", err.Error())
	case errors.Is(err, policy.ErrViolation):
		return clientError("AccessDeniedException", err.Error())
	case errors.Is(err, errdefs.ErrInUse):
		if action == "DeleteCluster" {
			msg := err.Error()
			switch {
			case strings.Contains(msg, "container instance"):
				return clientError("ClusterContainsContainerInstancesException", "The Cluster cannot be deleted while Container Instances are active or draining.")
			case strings.Contains(msg, "service"):
				return clientError("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
			}
		}
		if action == "PutClusterCapacityProviders" || action == "DeleteCapacityProvider" {
			return clientError("ResourceInUseException", err.Error())
		}
		return clientError("ClientException", err.Error())
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrNotFound):
		return clientError("InvalidParameterException", err.Error())
	default:
		return &Error{Type: "ServerException", Message: "Internal error.", Status: http.StatusInternalServerError}
	}
}
