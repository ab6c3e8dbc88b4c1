# inc-server.tcl PORT (RealRuntimesTest): Tcl's event loop serving GET /inc, the counter one more
# each time, to kept-alive clients (a fileevent each), with an `after` timer ticking beside.
set n 0
set ticks 0
proc tick {} { global ticks; incr ticks; after 10 tick }
proc accept {c addr p} {
  fconfigure $c -blocking 0 -translation crlf
  fileevent $c readable [list req $c]
}
proc req {c} {
  global n
  if {[gets $c line] < 0} { if {[eof $c]} { close $c }; return }
  if {$line eq ""} {
    incr n
    fconfigure $c -translation binary
    puts -nonewline $c "HTTP/1.1 200 OK\r\nContent-Length: [string length $n]\r\n\r\n$n"
    flush $c
    fconfigure $c -translation crlf
  }
}
socket -server accept -myaddr 127.0.0.1 [lindex $argv 0]
after 10 tick
puts ready
flush stdout
vwait forever
