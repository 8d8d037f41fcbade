"""Build a ready engine from a config: the one place where the parts are wired together."""
from __future__ import annotations

import logging
import random

from bot.config import Config, secret
from bot.engine import Engine, EngineSettings
from nlp.classifier import load_classifier, read_manifest
from recommend.recommender import Recommender
from recommend.setup import build_providers
from storage import Database, load_or_create_secret, secret_path_for

log = logging.getLogger(__name__)


async def build_engine(config: Config, *, rng: random.Random | None = None) -> Engine:
    if read_manifest(config.model_path).get("kind") != "baseline":  # a transformer, alone or in the ensemble
        from nlp.transformer_threads import configure_torch_threads

        configure_torch_threads(config.model.threads)
    classifier = load_classifier(config.model_path)
    pseudonym_key = load_or_create_secret(secret_path_for(config.storage_path))
    db = await Database.open(config.storage_path)
    recommender = None
    try:
        providers = build_providers(
            db=db,
            api_key=secret("youtube_api_key"),
            api_base=config.youtube.api_base,
            daily_budget=config.youtube.daily_budget,
            cache_ttl_s=config.youtube.cache_ttl_hours * 3600,
            max_results=config.youtube.max_results,
            keyless=config.recommend.keyless,
        )
        recommender = Recommender(providers, budget_s=config.recommend.budget_s)
        for line in await recommender.status_lines():
            log.info("songs: %s", line)
        if secret("youtube_api_key"):
            await _report_youtube_key(config)
    except BaseException:  # an open database would keep the process alive after the error
        if recommender is not None:
            await recommender.close()
        await db.close()
        raise
    log.info("engine ready: model %s", classifier.version)
    return Engine(db, classifier, recommender, pseudonym_key, EngineSettings.from_config(config), rng=rng)


async def _report_youtube_key(config: Config) -> None:
    """Say at start-up, in plain words, when the YouTube key does not work (costs 1 quota unit)."""
    from recommend.youtube import check_youtube

    check = await check_youtube(secret("youtube_api_key"), api_base=config.youtube.api_base)
    if check.ok:
        log.info("songs: %s", check.message)
    else:
        log.warning("songs: %s", check.message)
