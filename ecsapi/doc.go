// Package ecsapi serves the Amazon ECS API on the wire, over an
// *stevedore.Orchestrator, so that the aws CLI, the AWS SDKs and any tool
// that takes an ECS endpoint URL drive Stevedore.
//
// The Handler speaks ECS's JSON 1.1 protocol: a POST whose
// X-Amz-Target header is "AmazonEC2ContainerServiceV20141113.<Action>",
// with a body of Content-Type application/x-amz-json-1.1. Answers and
// errors have ECS's shapes: timestamps in epoch seconds, enums in ECS's
// spelling, durations in ECS's units, and errors as
// {"__type": "ClusterNotFoundException", "message": "..."} with the HTTP
// status ECS uses.
//
// Every request must be signed with AWS Signature Version 4 by one of the
// credentials the embedding program configures (WithCredentials). The
// Handler recomputes the signature with aws-sdk-go-v2's signer and refuses,
// before anything is read or changed, a request that is unsigned, signed by
// an unknown key or with a wrong signature, or dated more than MaxClockSkew
// away from the Handler's clock.
//
//	h, err := ecsapi.New(orc, ecsapi.WithCredentials(ecsapi.Credentials{
//		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret,
//	}))
//	srv := ecsapi.NewServer("127.0.0.1:8080", h)
//	go srv.ListenAndServe()
//
// and then
//
//	aws ecs --endpoint-url http://127.0.0.1:8080 --region us-east-1 list-clusters
//
// The actions served are listed in Actions: clusters, container
// instances, attributes, task definitions, services, tasks, tags and
// capacity providers (a cluster's own, shown as Managed Instances
// providers). An action the Handler does not serve is an
// UnknownOperationException.
//
// No request member is dropped silently. A member Stevedore honours is
// honoured; an ECS member it cannot honour (launchType FARGATE,
// enableExecuteCommand, serviceRegistries, assignPublicIp ENABLED, ...) is
// refused with an InvalidParameterException naming it unless it holds its
// default value; a member that changes nothing on one host (subnets,
// clientToken, role) is accepted; and a member that is not ECS's is a
// SerializationException naming it. Durations are in ECS's units: a Go
// duration that is not a whole number of minutes shows rounded up.
// Errors of the Orchestrator become ECS's: a missing cluster a
// ClusterNotFoundException, a missing service a ServiceNotFoundException
// (ServiceNotActiveException when UpdateService finds it being deleted), a
// missing task definition a ClientException, an invalid request (any
// error of kind errdefs.ErrInvalid, whichever package found it, with the
// field and the rule in the message), an object that exists already or
// another object not found an InvalidParameterException, a task policy's
// refusal an
// AccessDeniedException, a cluster still in use a
// ClusterContains...Exception, a capacity provider still in use a
// ResourceInUseException, and anything else a ServerException (500).
//
// A Handler is safe for concurrent use.
package ecsapi
