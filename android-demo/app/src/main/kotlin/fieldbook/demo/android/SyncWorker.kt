package fieldbook.demo.android

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import fieldbook.demo.BackgroundOutcome
import fieldbook.demo.BackgroundSync
import java.util.concurrent.TimeUnit

/**
 * Syncs in the background when connectivity returns: reps edit with no signal, and the
 * edits should reach the server (and colleagues' reach the phone) without anyone
 * remembering to tap 同步. Whether to retry is decided by [BackgroundSync] from the
 * error's kind; WorkManager supplies the back-off.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val session = (applicationContext as FieldbookApp).session.await().getOrElse { return Result.failure() }
        return when (BackgroundSync(session).runOnce()) {
            is BackgroundOutcome.Done -> Result.success()
            is BackgroundOutcome.Retry -> Result.retry()
            // Enrolment needed or the store unusable: the app shows it when opened;
            // retrying would only wake the radio for nothing.
            is BackgroundOutcome.Stop -> Result.failure()
        }
    }

    companion object {
        private const val SOON = "fieldbook-sync-soon"
        private const val PERIODIC = "fieldbook-sync-periodic"

        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** A sync as soon as there is a network; repeated requests fold into one. */
        fun requestSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            // KEEP: a queued request already covers this edit (a sync pushes every pending card).
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.KEEP, request)
        }

        /** Pulls colleagues' and managers' edits a few times a day even without local edits. */
        fun schedulePeriodic(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(4, TimeUnit.HOURS)
                .setConstraints(online)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }
    }
}
