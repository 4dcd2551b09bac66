from celery import shared_task


@shared_task(name="webapp.adapters.tasks.evaluate_uploaded_adapter")
def evaluate_uploaded_adapter(version_id: int) -> None:
    """Default queue: evaluating is encoding a few hundred images, short work next to tuning."""
    from webapp.adapters.evaluation import adapter_version_evaluate

    adapter_version_evaluate(version_id=version_id)


@shared_task(name="webapp.adapters.tasks.try_adapter_images")
def try_adapter_images(trial_id: int) -> None:
    """Default queue: a few images through an adapter, seconds of work."""
    from webapp.adapters.trials import adapter_trial_run

    adapter_trial_run(trial_id=trial_id)
