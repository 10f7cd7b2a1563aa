"""Background collectors: GPUs (NVML), serving engines' /metrics, this host.

base.py      the Collector protocol, CollectorDaemon (interval, timeout, backoff, state, up)
nvml.py      per-GPU metrics through NVIDIA's NVML (MIG-aware; "unavailable" without a driver)
engine_metrics.py + engine_maps.py + histograms.py
             scrape vLLM / TGI / SGLang / llama.cpp / DCGM exporter text into one vocabulary
host.py      CPU, memory, disk of the host; CPU and RSS of this process (psutil)
registry.py  build_collectors(settings, ...): the daemons the settings ask for

Nothing is imported here, so importing the package loads neither httpx, psutil nor pynvml.
"""
