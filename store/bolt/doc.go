// Package bolt is the durable store.Store, kept in one bbolt file.
package bolt
