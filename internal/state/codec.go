package state

import (
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Schemas describes how every kind of this package is stored: the
// constructor a durable store decodes into, and the migrations from each
// earlier schema version. A kind added to this package must be added here
// (a test checks it), and a change to a stored type that older files cannot
// be decoded into as they are must come with a migration appended to its
// kind's list.
//
// The constructors set the embedded pointers of TaskDefinition and Task:
// their zero values are unusable (ObjectID would dereference nil, and the
// definition's UnmarshalJSON, promoted through the nil pointer, would be
// called on it).
func Schemas() map[string]store.Schema {
	return map[string]store.Schema{
		KindClusters:  {New: func() store.Object { return new(Cluster) }},
		KindInstances: {New: func() store.Object { return new(Instance) }},
		KindTaskDefinitions: {New: func() store.Object {
			return &TaskDefinition{TaskDefinition: new(task.TaskDefinition)}
		}},
		KindTasks:          {New: func() store.Object { return &Task{Task: new(task.Task)} }},
		KindServices:       {New: func() store.Object { return new(Service) }},
		KindSecurityGroups: {New: func() store.Object { return new(SecurityGroup) }},
		KindScaling:        {New: func() store.Object { return new(Scaling) }},
		KindSamples:        {New: func() store.Object { return new(Sample) }},
	}
}

// Codec returns the codec durable stores use for this package's kinds.
func Codec() store.Codec {
	c, err := store.NewSchemaCodec(Schemas())
	if err != nil {
		// Schemas is a literal checked by the tests.
		panic(err)
	}
	return c
}
