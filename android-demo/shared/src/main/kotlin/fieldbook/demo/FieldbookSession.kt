package fieldbook.demo

import fieldbook.Fieldbook
import fieldbook.SyncListener
import fieldbook.SyncSummary
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.withContext

/**
 * The one open store of the app, shared by every screen.
 *
 * [revision] moves after every write and every sync, so a screen that shows the store
 * (a list, a card, the sync line) reloads when anything changed it, whichever screen or
 * background worker did the change. The store is the source of truth; view models keep
 * no copy that could go stale.
 */
class FieldbookSession(
    val book: Fieldbook,
    val dispatchers: DemoDispatchers = DemoDispatchers(),
) {
    private val _revision = MutableStateFlow(0L)
    val revision: StateFlow<Long> = _revision.asStateFlow()

    /** The card schema, read once: it is fixed for a build of the library. */
    val schema: CardSchema by lazy { CardSchema.fromLibrary() }

    /** A read from the read connection, off the caller's thread. */
    suspend fun <T> read(block: Fieldbook.() -> T): T = withContext(dispatchers.io) { book.block() }

    /** A write; screens showing the store reload afterwards, whether it succeeded or not. */
    suspend fun <T> write(block: Fieldbook.() -> T): T =
        try {
            withContext(dispatchers.io) { book.block() }
        } finally {
            changed()
        }

    /**
     * One sync. The library runs it on a thread of its own (the store keeps answering),
     * so it needs no dispatcher; what a failed or cancelled sync applied stays, hence
     * the reload in every case.
     */
    suspend fun sync(listener: SyncListener?): SyncSummary =
        try {
            book.sync(listener)
        } finally {
            changed()
        }

    private fun changed() = _revision.update { it + 1 }
}
