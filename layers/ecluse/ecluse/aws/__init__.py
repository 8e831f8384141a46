"""Adapters to AWS services. Only this subpackage (and the handlers) import boto3."""
