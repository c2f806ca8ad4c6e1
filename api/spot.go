package api

import (
	"time"
)

// DefaultSpotNotice is the warning a Spot interruption gives before the
// capacity goes: EC2's two minutes.
const DefaultSpotNotice = 2 * time.Minute

// MaxSpotNotice bounds the notice InterruptSpotInstance accepts.
const MaxSpotNotice = time.Hour

// InterruptSpotInstanceInput warns a Spot instance of its reclaim, as EC2's
// Spot interruption notice does.
type InterruptSpotInstanceInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// ContainerInstance is the instance's ID or ARN.
	ContainerInstance string
	// Notice is how long before the reclaim: DefaultSpotNotice when zero,
	// at most MaxSpotNotice.
	Notice time.Duration
}

// InterruptSpotInstanceOutput is empty: the instance is DRAINING, and is
// reclaimed at the end of the notice.
type InterruptSpotInstanceOutput struct{}
