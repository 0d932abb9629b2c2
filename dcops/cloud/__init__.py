"""Private cloud as code: the Pulumi program for the OpenStack cloud, its offline plan, checks and diff."""
