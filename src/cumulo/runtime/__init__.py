"""Process roles: the API server, the S3 endpoint, the background worker."""
