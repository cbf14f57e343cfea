package fieldbook.demo.android

import android.app.Application
import fieldbook.Fieldbook
import fieldbook.demo.FieldbookSession
import fieldbook.demo.UrlConnectionHttpClient
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.drop
import kotlinx.coroutines.launch
import java.io.File

/**
 * Holds the app's one store. It is opened off the main thread (unwrapping the key and
 * opening SQLCipher take disk I/O and a key derivation); screens and the sync worker
 * await [session]. One handle for the whole process: the library allows one writer per
 * file, and a second `open` would fail with `store.locked`.
 */
class FieldbookApp : Application() {
    private val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    lateinit var session: Deferred<Result<FieldbookSession>>
        private set

    override fun onCreate() {
        super.onCreate()
        session = appScope.async(Dispatchers.IO) {
            runCatching {
                val key = StoreKey(File(noBackupFilesDir, "store-key.wrapped")).obtain()
                val book = Fieldbook.open(File(noBackupFilesDir, "cards.db").path, key)
                // The platform's HTTP stack, not the built-in one: see UrlConnectionHttpClient.
                book.setHttpClient(UrlConnectionHttpClient())
                FieldbookSession(book)
            }
        }
        SyncWorker.schedulePeriodic(this)
        appScope.launch {
            val opened = session.await().getOrNull() ?: return@launch
            // A change that leaves edits unsent asks for a sync once the network is there;
            // WorkManager keeps the request across process death and reboots. Checking
            // `pendingCards` keeps a sync's own reload from asking for another sync.
            opened.revision.drop(1).collect {
                // A failing status read (store closed) must not crash the app from here.
                val pending = runCatching { opened.read { status() }.pendingCards }.getOrDefault(0uL)
                if (pending > 0u) SyncWorker.requestSoon(this@FieldbookApp)
            }
        }
    }
}
