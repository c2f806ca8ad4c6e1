package network

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/bits"
	"net/netip"
	"sync"
)

// IPAMState is what an AllocationStore keeps for an IPAM: the subnet, the
// next-fit cursor and one address per task.
type IPAMState struct {
	// Subnet is the subnet the allocations belong to; the zero Prefix means
	// "nothing stored yet".
	Subnet netip.Prefix `json:"subnet"`
	// Next is where the next search for a free address starts.
	Next netip.Addr `json:"next,omitzero"`
	// Allocations maps task IDs to their addresses.
	Allocations map[string]netip.Addr `json:"allocations"`
}

// AllocationStore persists IPAM state so that allocations survive a restart
// of the process. Save is called after every change with the whole state;
// Load once, when the IPAM is created. Implementations need not be safe for
// concurrent use: the IPAM serialises its calls.
type AllocationStore interface {
	Load() (IPAMState, error)
	Save(IPAMState) error
}

// IPAM hands out one IPv4 address per task from a subnet. The first address
// after the network address is the gateway (the bridge's address); the
// network and broadcast addresses are never handed out.
//
// Allocation is next-fit over a bitmap: the search starts after the last
// address handed out and skips full 64-address words, so it is O(1) while
// the subnet has room and O(size/64) in the worst case, and a released
// address is reused as late as possible. That matters because the kernel
// destroys a deleted namespace (and the veth holding the old address)
// asynchronously. Allocation is deterministic: the same sequence of calls on
// the same state gives the same addresses.
//
// Every change is saved to the AllocationStore before the call returns; when
// saving fails the change is undone and the error returned. A store that is
// an AllocationJournal gets each change appended and a full snapshot only
// every few hundred changes. An IPAM is safe
// for concurrent use.
type IPAM struct {
	mu     sync.Mutex
	subnet netip.Prefix
	base   uint32 // network address
	size   uint32 // addresses in the subnet, network and broadcast included
	used   []uint64
	next   uint32 // offset where the next search starts
	free   int
	byTask map[string]uint32 // task ID -> offset
	store  AllocationStore
	// journaled counts changes appended since the last snapshot, when the
	// store is an AllocationJournal.
	journaled int
}

// Smallest and largest subnets an IPAM accepts.
const (
	minSubnetBits = 8
	maxSubnetBits = 30
)

// NewIPAM returns an IPAM for subnet (IPv4, prefix length 8 to 30, host bits
// zero), loading earlier allocations from store. A nil store keeps
// allocations in memory only. Loaded state for another subnet, or with
// addresses outside the subnet, on the gateway or taken twice, is an error
// wrapping ErrConflict.
func NewIPAM(subnet netip.Prefix, store AllocationStore) (*IPAM, error) {
	if err := checkSubnet(subnet); err != nil {
		return nil, err
	}
	size := uint32(1) << (32 - subnet.Bits())
	a := &IPAM{
		subnet: subnet,
		base:   addrToU32(subnet.Addr()),
		size:   size,
		used:   make([]uint64, (size+63)/64),
		next:   2,
		free:   int(size) - 3,
		byTask: map[string]uint32{},
		store:  store,
	}
	// Network, gateway and broadcast are never handed out.
	a.mark(0)
	a.mark(1)
	a.mark(size - 1)
	if store == nil {
		return a, nil
	}
	st, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("network: load IPAM state: %w", err)
	}
	if err := a.restore(st); err != nil {
		return nil, err
	}
	if _, ok := store.(AllocationJournal); ok && st.Subnet.IsValid() {
		// Compact what earlier processes appended.
		if err := store.Save(a.stateLocked()); err != nil {
			return nil, fmt.Errorf("network: compact IPAM state: %w", err)
		}
		a.journaled = 1
	}
	return a, nil
}

func checkSubnet(subnet netip.Prefix) error {
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return fieldErr("subnet", "%q is not an IPv4 prefix", subnet.String())
	}
	if subnet.Bits() < minSubnetBits || subnet.Bits() > maxSubnetBits {
		return fieldErr("subnet", "%s: prefix length must be between %d and %d", subnet, minSubnetBits, maxSubnetBits)
	}
	if subnet.Masked() != subnet {
		return fieldErr("subnet", "%s has host bits set (did you mean %s?)", subnet, subnet.Masked())
	}
	return nil
}

func (a *IPAM) restore(st IPAMState) error {
	if !st.Subnet.IsValid() && len(st.Allocations) == 0 {
		return nil // nothing stored yet
	}
	if st.Subnet != a.subnet {
		return fmt.Errorf("%w: stored IPAM state is for subnet %s, configured subnet is %s", ErrConflict, st.Subnet, a.subnet)
	}
	for task, addr := range st.Allocations {
		off, ok := a.offset(addr)
		if !ok || off < 2 || off >= a.size-1 {
			return fmt.Errorf("%w: stored address %s of task %q is not assignable in %s", ErrConflict, addr, task, a.subnet)
		}
		if a.isUsed(off) {
			return fmt.Errorf("%w: stored address %s is allocated twice (task %q)", ErrConflict, addr, task)
		}
		a.mark(off)
		a.byTask[task] = off
		a.free--
	}
	if off, ok := a.offset(st.Next); ok && off >= 2 && off < a.size-1 {
		a.next = off
	}
	return nil
}

// Subnet returns the subnet addresses are taken from.
func (a *IPAM) Subnet() netip.Prefix { return a.subnet }

// Gateway returns the subnet's first address, which belongs to the bridge.
func (a *IPAM) Gateway() netip.Addr { return u32ToAddr(a.base + 1) }

// Allocate returns the address of taskID, allocating one when the task has
// none yet; calling it again for the same task returns the same address. It
// returns an error wrapping ErrExhausted when the subnet is full.
func (a *IPAM) Allocate(taskID string) (netip.Addr, error) {
	if taskID == "" {
		return netip.Addr{}, fieldErr("taskID", "must not be empty")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if off, ok := a.byTask[taskID]; ok {
		return u32ToAddr(a.base + off), nil
	}
	off, ok := a.findFree()
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: no free address in %s for task %q", ErrExhausted, a.subnet, taskID)
	}
	prevNext := a.next
	a.mark(off)
	a.byTask[taskID] = off
	a.free--
	a.next = off + 1
	if a.next >= a.size-1 {
		a.next = 2
	}
	if err := a.save(AllocationChange{TaskID: taskID, Address: u32ToAddr(a.base + off), Next: u32ToAddr(a.base + a.next)}); err != nil {
		a.unmark(off)
		delete(a.byTask, taskID)
		a.free++
		a.next = prevNext
		return netip.Addr{}, fmt.Errorf("network: save allocation of task %q: %w", taskID, err)
	}
	return u32ToAddr(a.base + off), nil
}

// Reserve gives taskID the address addr, for adopting a task whose
// address is known from elsewhere (a namespace found after the state was
// lost). Reserving the address the task already has is a no-op. An address
// outside the subnet or not assignable is an error wrapping ErrInvalid; an
// address held by another task, or a task holding another address, one
// wrapping ErrConflict. The cursor does not move.
func (a *IPAM) Reserve(taskID string, addr netip.Addr) error {
	if taskID == "" {
		return fieldErr("taskID", "must not be empty")
	}
	off, ok := a.offset(addr)
	if !ok || off < 2 || off >= a.size-1 {
		return fieldErr("address", "%s is not assignable in %s", addr, a.subnet)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.byTask[taskID]; ok {
		if cur == off {
			return nil
		}
		return fmt.Errorf("%w: task %q holds %s, not %s", ErrConflict, taskID, u32ToAddr(a.base+cur), addr)
	}
	if a.isUsed(off) {
		return fmt.Errorf("%w: %s is allocated to another task", ErrConflict, addr)
	}
	a.mark(off)
	a.byTask[taskID] = off
	a.free--
	if err := a.save(AllocationChange{TaskID: taskID, Address: addr}); err != nil {
		a.unmark(off)
		delete(a.byTask, taskID)
		a.free++
		return fmt.Errorf("network: save reservation of task %q: %w", taskID, err)
	}
	return nil
}

// Release gives taskID's address back. Releasing a task that has none is
// not an error.
func (a *IPAM) Release(taskID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	off, ok := a.byTask[taskID]
	if !ok {
		return nil
	}
	a.unmark(off)
	delete(a.byTask, taskID)
	a.free++
	if err := a.save(AllocationChange{TaskID: taskID}); err != nil {
		a.mark(off)
		a.byTask[taskID] = off
		a.free--
		return fmt.Errorf("network: save release of task %q: %w", taskID, err)
	}
	return nil
}

// Lookup returns taskID's address, if it has one.
func (a *IPAM) Lookup(taskID string) (netip.Addr, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	off, ok := a.byTask[taskID]
	if !ok {
		return netip.Addr{}, false
	}
	return u32ToAddr(a.base + off), true
}

// Allocations returns a copy of every task's address.
func (a *IPAM) Allocations() map[string]netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stateLocked().Allocations
}

// Free returns how many addresses are left.
func (a *IPAM) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.free
}

func (a *IPAM) stateLocked() IPAMState {
	st := IPAMState{
		Subnet:      a.subnet,
		Next:        u32ToAddr(a.base + a.next),
		Allocations: make(map[string]netip.Addr, len(a.byTask)),
	}
	for task, off := range a.byTask {
		st.Allocations[task] = u32ToAddr(a.base + off)
	}
	return st
}

// save persists a change: appended to a journal while the journal is short
// compared to the state, as a full snapshot otherwise.
func (a *IPAM) save(c AllocationChange) error {
	if a.store == nil {
		return nil
	}
	if j, ok := a.store.(AllocationJournal); ok && a.journaled > 0 && a.journaled < 256+2*len(a.byTask) {
		if err := j.Append(c); err != nil {
			a.journaled = 0 // the next change writes a whole snapshot over a possibly torn line
			return err
		}
		a.journaled++
		return nil
	}
	if err := a.store.Save(a.stateLocked()); err != nil {
		return err
	}
	a.journaled = 1
	return nil
}

// findFree returns the first free offset at or after a.next, wrapping once.
func (a *IPAM) findFree() (uint32, bool) {
	if a.free <= 0 {
		return 0, false
	}
	if off, ok := a.scan(a.next, a.size); ok {
		return off, true
	}
	return a.scan(0, a.next)
}

// scan looks for a clear bit in [from, to).
func (a *IPAM) scan(from, to uint32) (uint32, bool) {
	for off := from; off < to; {
		w := a.used[off/64] >> (off % 64) // bits from off to the word's end
		if w != ^uint64(0)>>(off%64) {
			cand := off + uint32(bits.TrailingZeros64(^w))
			if cand < to {
				return cand, true
			}
			return 0, false
		}
		off = (off/64 + 1) * 64
	}
	return 0, false
}

func (a *IPAM) mark(off uint32)        { a.used[off/64] |= 1 << (off % 64) }
func (a *IPAM) unmark(off uint32)      { a.used[off/64] &^= 1 << (off % 64) }
func (a *IPAM) isUsed(off uint32) bool { return a.used[off/64]&(1<<(off%64)) != 0 }

func (a *IPAM) offset(addr netip.Addr) (uint32, bool) {
	if !addr.IsValid() || !a.subnet.Contains(addr) {
		return 0, false
	}
	return addrToU32(addr) - a.base, true
}

func addrToU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u32ToAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// MemoryStore is an AllocationStore that keeps the state in memory, for
// tests and for IPAMs that need not survive a restart. It is safe for
// concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	state IPAMState
	saves int
}

// Load returns a copy of the last saved state.
func (s *MemoryStore) Load() (IPAMState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	st.Allocations = maps.Clone(st.Allocations)
	return st, nil
}

// Save keeps a copy of st.
func (s *MemoryStore) Save(st IPAMState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Allocations = maps.Clone(st.Allocations)
	s.state = st
	s.saves++
	return nil
}

// Saves returns how many times Save was called.
func (s *MemoryStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}
