package fieldbook.demo

import fieldbook.FieldbookException
import fieldbook.SyncSummary
import kotlinx.coroutines.CancellationException

/** What a background sync tells the scheduler (WorkManager, BGTaskScheduler). */
sealed interface BackgroundOutcome {
    data class Done(val summary: SyncSummary) : BackgroundOutcome

    /** Worth trying again later unchanged: no network, a busy server, cancelled. */
    data class Retry(val message: UiMessage) : BackgroundOutcome

    /** Retrying cannot help until the rep acts (enrol again, free space …): tell them. */
    data class Stop(val message: UiMessage) : BackgroundOutcome
}

/**
 * One sync when connectivity returns, with no screen to show errors on: decides, by the
 * error's kind, whether the scheduler should retry with back-off or give up and notify.
 */
class BackgroundSync(private val session: FieldbookSession) {
    suspend fun runOnce(): BackgroundOutcome =
        try {
            BackgroundOutcome.Done(session.sync(null))
        } catch (e: CancellationException) {
            throw e
        } catch (e: FieldbookException) {
            val message = e.toUiMessage(session.schema)
            when (e) {
                // Not enrolled, a revoked token, a full disk: a retry loop would only
                // drain the battery.
                is FieldbookException.Network, is FieldbookException.Cancelled -> BackgroundOutcome.Retry(message)
                else -> BackgroundOutcome.Stop(message)
            }
        }
}
