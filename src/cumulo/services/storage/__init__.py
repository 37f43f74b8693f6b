"""Object storage: buckets and objects behind the REST API (/storage) and the S3 protocol."""
