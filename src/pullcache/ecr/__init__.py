"""Amazon ECR's API (JSON 1.1) over the same repositories, images and blobs as /v2/."""
