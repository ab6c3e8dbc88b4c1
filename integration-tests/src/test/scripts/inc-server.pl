% inc-server.pl PORT (RealRuntimesTest): SWI-Prolog's threaded HTTP server (four worker threads)
% answering GET /inc with the counter, one more each time, kept in the clause database, while a
% thread computes. Its keep-alive timeout (2 s by default, on the monotonic clock, which a dump
% moves on like any pause) is raised past the test's length.
:- use_module(library(http/thread_httpd)).
:- use_module(library(http/http_dispatch)).
:- dynamic counter/1.
counter(0).
:- http_handler('/inc', inc, []).
inc(_) :-
    with_mutex(c, (retract(counter(N)), N1 is N + 1, assertz(counter(N1)))),
    format('Content-type: text/plain~n~n~w', [N1]).
busy :- numlist(1, 20000, L), sum_list(L, _), sleep(0.01), busy.
main :-
    current_prolog_flag(argv, [P|_]), atom_number(P, Port),
    http_server(http_dispatch, [port(localhost:Port), workers(4), keep_alive_timeout(3600), timeout(3600)]),
    thread_create(busy, _, []),
    format("ready~n"), flush_output,
    thread_get_message(_).
:- initialization(main, main).
