"""The lab's seed scripts (keystone/seed.py on the controller, cloud_seed.py) make their contents through APIs
that answer before they are fully up (Keystone's cache and database, authtoken, RPC): each step is tried again
after a failure, a bounded number of times. Imported by scripts installed under /usr/local/sbin, which put
/opt/labbox/lib (this folder on every lab host) on their path."""
import sys
import time


def converge(label, step, attempts, pause, final=()):
    """Call step() until it returns, `attempts` times at most, `pause` s apart; an exception of a type in `final`
    is what trying again will not change: it ends the loop at once."""
    started = time.time()
    for attempt in range(attempts):
        try:
            step()
            break
        except final:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a service not yet up; the last one is raised
            if attempt == attempts - 1:
                raise
            print(f"{label}: retrying after {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(pause)
    print(f"{label}: converged in {time.time() - started:.1f} s")
