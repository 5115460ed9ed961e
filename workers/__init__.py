"""Background jobs: RQ queues, the job decorator, and the jobs themselves."""
