"""The email pipeline: rendering in the practice's branding (R40), the SQS worker that sends
each job once or says why not (R36–R43), copies to contacts and linked clients (R29), and the
email log and previews staff read (B1, B8)."""
