#lang racket/base
;; inc-server.rkt PORT (RealRuntimesTest): Racket CS serving GET /inc, the counter one more each
;; time, to kept-alive clients, a green thread each; the counter is incremented by a place (an OS
;; thread with a heap of its own) over a place channel; a thread allocates so the collector runs.
(require racket/tcp racket/place syntax/location)
(provide worker)
(define (worker ch)
  (let loop () (place-channel-put ch (add1 (place-channel-get ch))) (loop)))
(module+ main
  (define port (string->number (vector-ref (current-command-line-arguments) 0)))
  (define pl (dynamic-place (quote-module-path "..") 'worker))
  (define n 0)
  (define lock (make-semaphore 1))
  (define (inc!)
    (call-with-semaphore lock (lambda () (place-channel-put pl n) (set! n (place-channel-get pl)) n)))
  (void (thread (lambda ()
                  (let loop ([l '()])
                    (sleep 0.001)
                    (loop (if (> (length l) 500) '() (cons (make-vector 100) l)))))))
  (define listener (tcp-listen port 16 #t "127.0.0.1"))
  (printf "ready\n")
  (flush-output)
  (let accept ()
    (define-values (in out) (tcp-accept listener))
    (thread (lambda ()
              (let request ()
                (define line (read-line in 'return-linefeed))
                (cond [(eof-object? line) (close-output-port out)]
                      [(string=? line "")
                       (define b (number->string (inc!)))
                       (write-string (format "HTTP/1.1 200 OK\r\nContent-Length: ~a\r\n\r\n~a" (string-length b) b) out)
                       (flush-output out)
                       (request)]
                      [else (request)]))))
    (accept)))
