;; inc-server.lisp PORT (RealRuntimesTest): SBCL serving GET /inc with the counter, one more each
;; time, to kept-alive clients, a thread per client; two threads allocate so that the collector
;; (generational, stopping the other threads with SIGUSR2) runs now and then.
(require :sb-bsd-sockets)
(defpackage :inc (:use :cl :sb-bsd-sockets))
(in-package :inc)
(defvar *n* 0)
(defvar *lock* (sb-thread:make-mutex))
(defun churn ()
  (loop with l = nil
        for i from 0
        do (sleep 0.001)
           (setf l (if (> (length l) 1000) nil (cons (make-array 64 :initial-element i) l)))))
(defun serve (socket)
  (let ((s (socket-make-stream socket :input t :output t :external-format :latin-1 :buffering :full)))
    (handler-case
        (loop for line = (read-line s nil)
              while line
              do (when (string= (string-right-trim '(#\Return) line) "")
                   (let ((b (princ-to-string (sb-thread:with-mutex (*lock*) (incf *n*)))))
                     (format s "HTTP/1.1 200 OK~C~CContent-Length: ~D~C~C~C~C~A"
                             #\Return #\Newline (length b) #\Return #\Newline #\Return #\Newline b)
                     (finish-output s))))
      (error () nil))
    (ignore-errors (socket-close socket))))
(defun main ()
  (let ((srv (make-instance 'inet-socket :type :stream :protocol :tcp))
        (port (parse-integer (second sb-ext:*posix-argv*))))
    (setf (sockopt-reuse-address srv) t)
    (socket-bind srv #(127 0 0 1) port)
    (socket-listen srv 16)
    (sb-thread:make-thread #'churn)
    (sb-thread:make-thread #'churn)
    (format t "ready~%")
    (finish-output)
    (loop (let ((c (socket-accept srv)))
            (sb-thread:make-thread (lambda () (serve c)))))))
(main)
