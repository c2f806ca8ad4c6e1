package api

import (
	"time"
)

// DefaultSpotNotice is the warning a Spot interruption gives before the
// capacity goes: EC2's two minutes.
const DefaultSpotNotice = 2 * time.Minute

// MaxSpotNotice bounds the notice InterruptSpotInstance accepts.
const MaxSpotNotice = time.Hour
