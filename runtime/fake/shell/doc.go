// Package shell is the command vocabulary of the fake runtime: a tiny model
// of busybox applets (echo, sleep, true, false, hostname, pwd, id, env) and
// of busybox sh (sequences, && and ||, while loops, trap, exec, parameter
// expansion, redirections to /dev/null and between stdout and stderr).
//
// Interpret does not run anything. It works out, ahead of time, what a
// command line does as a Program: the output the process writes and when,
// when it exits and with which code, and how it answers a signal received
// at a given moment. The fake runtime (package runtime/fake) then plays the
// program against the clock, so that tests of containers that run busybox
// commands need no container engine and run under testing/synctest.
//
//	p := shell.Interpret([]string{"sh", "-c", "echo up; sleep 2; exit 3"}, shell.Env{Vars: shell.DefaultEnv()})
//	// p.Known, p.Out[0].Text == "up\n", p.ExitAt == 2*time.Second, p.Code == 3
//
// A command outside the vocabulary gives a Program whose Known is false: the
// fake runtime then treats the process as one that runs until it is
// stopped.
//
// Signals are Linux's numbers whatever the host, since the fake models
// Linux containers.
package shell
