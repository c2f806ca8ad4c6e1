// Package nldump repeats netlink dumps that the kernel interrupted.
//
// A netlink dump (the list of links, of addresses) spans several messages;
// when the objects change while it is read, the kernel flags the dump as
// inconsistent and the netlink package returns netlink.ErrDumpInterrupted.
// On a host where other tasks' links come and go all the time that is
// routine, and the answer is to read again. Retry does, for the Linux
// network provider and the leak check alike. The package is empty on other
// systems.
package nldump
