# Runs Debian 12's getmail6 (/usr/bin/getmail) with one fix applied in-process.
#
# getmail6 6.18 forks a child for every message it delivers and waits for it with a
# SIGCHLD handler that notifies a threading.Condition. The handler is installed only after
# fork(), and a notification sent before the parent waits is lost: a delivery child that
# exits quickly (on another core) leaves getmail waiting for its timeout (then it aborts:
# "operation error (waiting child pid N timed out)"). See getmail6 issues #52 and #226.
# On this bench (2 cores, tmpfs) that happens within a few hundred messages.
#
# The fix waits for the child with a blocking os.waitpid, as the code did before 6.x's
# handler. It changes nothing else: getmail still forks one delivery child per message.
import os
import runpy
import sys

from getmailcore import baseclasses
from getmailcore.exceptions import getmailOperationError


def _prepare_child(self):
    pass


def _wait_for_child(self, childpid):
    while True:
        try:
            pid, status = os.waitpid(childpid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        raise getmailOperationError('child pid %d killed by signal %d' % (pid, os.WTERMSIG(status)))
    if not os.WIFEXITED(status):
        raise getmailOperationError('child pid %d failed to exit' % pid)
    return os.WEXITSTATUS(status)


baseclasses.ForkingBase._prepare_child = _prepare_child
baseclasses.ForkingBase._wait_for_child = _wait_for_child

GETMAIL = '/usr/bin/getmail'
sys.argv[0] = GETMAIL
runpy.run_path(GETMAIL, run_name='__main__')
