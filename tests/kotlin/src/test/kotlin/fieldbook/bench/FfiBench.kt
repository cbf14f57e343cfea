package fieldbook.bench

import fieldbook.FieldEdit
import fieldbook.Fieldbook
import fieldbook.ListQuery
import java.nio.file.Files
import kotlinx.coroutines.runBlocking

/**
 * The Kotlin side of the FFI overhead benchmark (the Rust side is
 * ffi/examples/bench_rust_side.rs): the first sync of a territory and the medians of a
 * card screen, an edit, a list page and a search, through the generated bindings.
 * Prints `name value` lines. Not a test: `scripts/bench-ffi` runs it with a server URL
 * and a one-time token.
 */
fun main(args: Array<String>) = runBlocking {
    val url = args[0]
    val token = args[1]
    val samples = args.getOrNull(2)?.toInt() ?: 200
    run {
        val dir = Files.createTempDirectory("fieldbook-bench")
        val book = Fieldbook.open(dir.resolve("kotlin.db").toString(), null)
        book.enrol(url, token)
        val t0 = System.nanoTime()
        val summary = book.sync(null)
        val sync = (System.nanoTime() - t0) / 1e6
        println("first_sync_cards ${summary.cardsNew}")
        println("first_sync_ms ${"%.1f".format(sync)}")
        val ids = book.list(ListQuery(limit = 100000u)).map { it.id }
        fun pick(i: Int) = ids[(i * 37) % ids.size]
        fun median(f: (Int) -> Unit): Double {
            val times = (0 until samples).map { i ->
                val t = System.nanoTime(); f(i); (System.nanoTime() - t) / 1e6
            }.sorted()
            return times[times.size / 2]
        }
        repeat(50) { book.card(pick(it)) } // warm the JIT
        val card = median { book.card(pick(it)) }
        val edit = median { book.updateCard(pick(it), listOf(FieldEdit("basic.city", "杭州$it"))) }
        val list = median { book.list(ListQuery(limit = 50u)) }
        val search = median { book.search("客户", 50u) }
        println("card_ms ${"%.4f".format(card)}")
        println("edit_ms ${"%.3f".format(edit)}")
        println("list_ms ${"%.3f".format(list)}")
        println("search_ms ${"%.3f".format(search)}")
        book.closeStore()
    }
}
