package fieldbook.demo

import fieldbook.Fieldbook
import fieldbook.ScenarioServer
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import java.nio.file.Path

/**
 * The demo company's live server (tests/kotlin's [ScenarioServer]) and phones opened on
 * it: real stores, real library, real sync. Closes everything it opened.
 */
class DemoPhones : AutoCloseable {
    val server = ScenarioServer()
    private val dir: Path = Files.createTempDirectory("fieldbook-demo")
    private val opened = mutableListOf<Fieldbook>()

    /** A fresh store at [name], not enrolled. */
    fun open(name: String, key: ByteArray? = null): Fieldbook =
        Fieldbook.open(dir.resolve("$name.db").toString(), key).also { opened += it }

    /** A phone of [rep] enrolled and synced once (its territory's 20 cards arrived). */
    suspend fun synced(name: String, rep: String, dispatchers: DemoDispatchers = DemoDispatchers()): FieldbookSession {
        val book = open(name)
        book.enrol(server.url, server.token(rep, deviceName = name))
        book.sync(null)
        return FieldbookSession(book, dispatchers)
    }

    override fun close() {
        opened.forEach { it.close() }
        server.close()
    }
}

/**
 * Waits until the state satisfies [predicate]. The bound only keeps a broken build from
 * hanging the suite; no test depends on how fast anything is.
 */
suspend fun <T> StateFlow<T>.awaitState(predicate: (T) -> Boolean): T = withTimeout(60_000) { first(predicate) }
