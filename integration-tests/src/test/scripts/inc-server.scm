;; inc-server.scm PORT (RealRuntimesTest): Guile 3's web server answering GET /inc with the counter,
;; one more each time, to kept-alive clients, while two threads allocate so that the collector
;; (Boehm's, which stops the other threads with signals) runs now and then.
(use-modules (web server) (web response) (ice-9 threads))
(define n 0)
(define port (string->number (cadr (command-line))))
(define (churn)
  (let loop ((l '()) (i 0))
    (usleep 1000)
    (loop (if (> (length l) 1000) '() (cons (make-vector 64 i) l)) (+ i 1))))
(call-with-new-thread churn)
(call-with-new-thread churn)
(define (handler request body)
  (set! n (+ n 1))
  (values (build-response #:headers '((content-type . (text/plain)))) (number->string n)))
(display "ready\n")
(force-output)
(run-server handler 'http `(#:host "127.0.0.1" #:port ,port))
