package fieldbook

import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.http.HttpClient as JavaHttpClient
import java.net.http.HttpRequest as JavaHttpRequest
import java.net.http.HttpResponse as JavaHttpResponse

/** An HTTP stack written in Kotlin (`java.net.http`), as an app would plug in OkHttp. */
class JavaNetClient : HttpClient {
    val requests = AtomicInteger()
    private val client = JavaHttpClient.newHttpClient()

    override fun post(request: HttpRequest): HttpResponse {
        requests.incrementAndGet()
        val builder = JavaHttpRequest.newBuilder(URI.create(request.url))
            .header("Content-Type", request.contentType)
            .POST(JavaHttpRequest.BodyPublishers.ofByteArray(request.body))
        request.bearerToken?.let { builder.header("Authorization", "Bearer $it") }
        val response = try {
            client.send(builder.build(), JavaHttpResponse.BodyHandlers.ofByteArray())
        } catch (e: java.io.IOException) {
            throw TransportException.Failed(e.toString())
        }
        return HttpResponse(response.statusCode().toUShort(), response.body())
    }
}

/** A rep's day, through the generated bindings, against a live server. */
class RepDayTest {
    private lateinit var server: ScenarioServer
    private lateinit var dir: Path

    @BeforeEach
    fun start() {
        server = ScenarioServer()
        dir = Files.createTempDirectory("fieldbook-phones")
    }

    @AfterEach
    fun stop() = server.close()

    private fun phone(name: String, key: ByteArray? = null) =
        Fieldbook.open(dir.resolve("$name.db").toString(), key)

    private fun edit(path: String, value: String) = FieldEdit(path, value)

    @Test
    fun `a rep enrols, works offline, syncs with progress and sees a colleague's edits`() = runBlocking {
        val phone = phone("zhangwei-phone")
        val enrolment = phone.enrol(server.url, server.token("zhangwei"))
        assertEquals("zhangwei", enrolment.repId)
        val seen = java.util.Collections.synchronizedList(mutableListOf<SyncProgress>())
        val first = phone.sync(object : SyncListener {
            override fun onProgress(progress: SyncProgress) {
                seen.add(progress)
            }
        })
        assertEquals(20u, first.cardsNew, "the whole territory arrives")
        assertTrue(seen.isNotEmpty() && seen.last().requests >= 1u && seen.last().cardsPulled == 20u)

        // Offline: a new customer, an edit, a visit with its place.
        val id = phone.createCard(listOf(edit("basic.name", "富春江边茶庄"), edit("territory", "east"), edit("basic.phone", "0571-8888 6666")))
        phone.updateCard(id, listOf(edit("credit.credit_limit", "80000"), edit("classification.abc", "A")))
        val visit = phone.logVisit(id, listOf(edit("summary", "谈了年底促销，同意先试销两箱"), edit("place", "西湖区文三路"), edit("lat", "30.2741"), edit("lon", "120.1551")), null)
        val card = phone.card(id)
        assertEquals("富春江边茶庄", card.name)
        val visits = card.collections.first { it.key == "visits" }
        assertEquals(visit, visits.items.single().id)
        assertTrue(visits.items.single().fields.any { it.path.endsWith(".place") && it.value == "西湖区文三路" })
        assertTrue(card.sections.first { it.key == "classification" }.fields.any { it.display == "A" })
        assertEquals(1uL, phone.status().pendingCards)
        assertEquals(id, phone.search("富春", 10u).single().id, "a two-character search")

        val pushed = phone.sync(null)
        assertEquals(0uL, pushed.pendingCards)

        // A second device of the same rep sees it, attributed.
        val tablet = phone("zhangwei-tablet")
        tablet.enrol(server.url, server.token("zhangwei", deviceName = "第二台手机"))
        tablet.sync(null)
        val onTablet = tablet.card(id)
        assertEquals("富春江边茶庄", onTablet.name)
        val history = tablet.history(id)
        assertTrue(history.all { it.rep == "zhangwei" })
        assertTrue(history.any { it.fields.any { f -> f.startsWith("visits.") } })
        phone.close()
        tablet.close()
    }

    @Test
    fun `concurrent edits show as a conflict until resolved`() = runBlocking {
        val a = phone("lina-a")
        val b = phone("lina-b")
        a.enrol(server.url, server.token("lina"))
        b.enrol(server.url, server.token("lina", deviceName = "备用手机"))
        a.sync(null)
        b.sync(null)
        val id = a.list(ListQuery(limit = 1u)).single().id
        a.updateCard(id, listOf(edit("basic.phone", "13800000001")))
        b.updateCard(id, listOf(edit("basic.phone", "13900000002")))
        a.sync(null); b.sync(null); a.sync(null)
        val conflict = a.conflicts(id).single { it.path == "basic.phone" }
        assertEquals(setOf("13800000001", "13900000002"), conflict.values.map { it.value }.toSet())
        assertTrue(a.card(id).sections.flatMap { it.fields }.first { it.path == "basic.phone" }.inConflict)
        assertEquals(1u, a.list(ListQuery(conflicted = true)).size.toUInt())
        a.resolveConflict(id, "basic.phone", "13800000001")
        a.sync(null); b.sync(null)
        assertTrue(b.conflicts(id).isEmpty())
        assertEquals("13800000001", b.card(id).sections.flatMap { it.fields }.first { it.path == "basic.phone" }.value)
        a.close(); b.close()
    }

    @Test
    fun `a rep inherits a territory with its full attributed history`() = runBlocking {
        val phone = phone("chenjie-phone")
        phone.enrol(server.url, server.token("chenjie"))
        phone.sync(null)
        val before = phone.status().cards
        val theirs = server.cardIn("north")
        assertThrows<FieldbookException.NotFound> { phone.card(theirs) }
        assertTrue(server.assign("north", "chenjie") > 0)
        val summary = phone.sync(null)
        assertEquals(20u, summary.cardsNew)
        assertEquals(before + 20uL, phone.status().cards)
        val history = phone.history(theirs)
        assertTrue(history.isNotEmpty())
        assertTrue(history.none { it.rep == "chenjie" }, "earlier reps' edits keep their author")
        assertTrue("north" in phone.status().territories)
        phone.close()
    }

    @Test
    fun `a device never moves a card, and the new rep reads its handover dossier`() = runBlocking {
        val phone = phone("zhangwei-dossier")
        phone.enrol(server.url, server.token("zhangwei", deviceName = "演示手机"))
        phone.sync(null)
        val id = server.cardIn("east")
        val refused = assertThrows<FieldbookException.InvalidInput> {
            phone.updateCard(id, listOf(edit("territory", "north")))
        }
        assertEquals("card.territory_fixed", refused.code)
        assertEquals("east", phone.card(id).territory, "nothing was written")
        phone.updateCard(id, listOf(edit("basic.phone", "13800009999")))
        assertEquals(0uL, phone.sync(null).pendingCards)

        assertTrue(server.assign("east", "lina") > 0)
        val away = phone.sync(null)
        assertEquals(20u, away.cardsRemoved, "the handed-over cards are purged")
        assertEquals(20uL, phone.status().handedAway)
        assertThrows<FieldbookException.NotFound> { phone.card(id) }

        val successor = phone("lina-dossier")
        successor.enrol(server.url, server.token("lina", deviceName = "李娜的手机"))
        successor.sync(null)
        val dossier = successor.dossier(id)
        assertEquals(id, dossier.cardId)
        assertEquals("east", dossier.territory)
        val phoneHistory = dossier.fields.single { it.path == "basic.phone" }
        val last = phoneHistory.changes.last()
        assertEquals("13800009999", last.value)
        assertEquals("演示手机", last.entry.deviceName)
        assertEquals("rep", last.entry.deviceRole)
        assertEquals("张伟", last.entry.personName)
        assertTrue(dossier.visits.mapNotNull { v -> v.fields.firstOrNull { it.path.endsWith(".at") }?.value }.zipWithNext().all { (a, b) -> a <= b }, "visits in time order")
        assertEquals("演示手机", successor.history(id).last().deviceName)
        phone.close()
        successor.close()
    }

    @Test
    fun `a card outside the territory is refused by the server and stays pending`() = runBlocking {
        val phone = phone("zhangwei-outside")
        phone.enrol(server.url, server.token("zhangwei", deviceName = "外区测试"))
        phone.sync(null)
        val id = phone.createCard(listOf(edit("basic.name", "北京朝阳商贸"), edit("territory", "north")))
        val summary = phone.sync(null)
        assertEquals("access.denied", summary.refused.single { it.cardId == id }.code)
        assertEquals(1uL, phone.status().pendingCards, "the refused card is kept, not dropped")
        phone.close()
    }

    @Test
    fun `sync through a transport written in Kotlin`() = runBlocking {
        val phone = phone("kotlin-transport")
        val client = JavaNetClient()
        phone.setHttpClient(client)
        phone.enrol(server.url, server.token("zhangwei", deviceName = "OkHttp手机"))
        val summary = phone.sync(null)
        assertEquals(20u, summary.cardsNew)
        assertTrue(client.requests.get() >= 2, "enrolment and sync went through it")
        phone.close()
    }

    @Test
    fun `a sync cancelled while waiting on the network completes later`() = runBlocking {
        val phone = phone("cancel")
        val release = CountDownLatch(1)
        val entered = CountDownLatch(1)
        val inner = JavaNetClient()
        val blockNext = java.util.concurrent.atomic.AtomicBoolean(false)
        phone.setHttpClient(object : HttpClient {
            override fun post(request: HttpRequest): HttpResponse {
                if (blockNext.get()) {
                    entered.countDown()
                    release.await(30, TimeUnit.SECONDS)
                }
                return inner.post(request)
            }
        })
        phone.enrol(server.url, server.token("zhangwei", deviceName = "慢网手机"))
        blockNext.set(true)
        val running = async(kotlinx.coroutines.Dispatchers.IO) { phone.sync(null) }
        assertTrue(entered.await(30, TimeUnit.SECONDS))
        // While the sync waits on the network, the store answers and takes edits.
        assertEquals(0uL, phone.status().cards)
        val mine = phone.createCard(listOf(edit("basic.name", "宁波海曙五金"), edit("territory", "east")))
        assertEquals(mine, phone.search("海曙", 5u).single().id)
        running.cancel()
        release.countDown()
        blockNext.set(false)
        val later = withTimeout(60_000) { phone.sync(null) }
        assertEquals(0uL, later.pendingCards)
        assertTrue(phone.status().cards >= 21uL, "everything arrived, the offline card too")
        phone.close()
    }

    @Test
    fun `two cards of one customer are found and merged into one`() {
        val phone = phone("dups")
        phone.initRep("zhangwei")
        val keep = phone.createCard(listOf(edit("basic.name", "上海华东食品有限公司"), edit("territory", "east"), edit("basic.phone", "021-62345678")))
        val other = phone.createCard(listOf(edit("basic.name", "華東食品廠"), edit("territory", "east"), edit("basic.phone", "62345678"), edit("basic.tax_no", "91310115MA1H7XYZ3K")))
        phone.createCard(listOf(edit("basic.name", "北京华北钢材贸易公司"), edit("territory", "east")))
        val pairs = phone.duplicates()
        assertEquals(1, pairs.size)
        assertEquals(setOf(keep, other), setOf(pairs[0].cardA, pairs[0].cardB))
        assertTrue("same_phone" in pairs[0].reasons, pairs[0].reasons.toString())
        val merged = phone.mergeDuplicate(keep, other)
        assertTrue("basic.tax_no" in merged.fieldsFilled, merged.fieldsFilled.toString())
        assertEquals(2, phone.list(ListQuery()).size)
        assertEquals(keep, phone.mergedTarget(other))
        assertEquals(0, phone.duplicates().size)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { phone.mergeDuplicate(keep, other) }.code)
        phone.close()
    }

    @Test
    fun `the phone classifies its customers and plans the day's route offline`() {
        val phone = phone("analysis")
        phone.initRep("zhangwei")
        // Three customers along a street east of the office, one without a position.
        val customers = listOf(
            Triple("上海华东食品有限公司", "900000", "121.4837"),
            Triple("浦东粮油贸易公司", "600000", "121.5037"),
            Triple("宝山钢材贸易公司", "300000", "121.4937"),
            Triple("闵行日用品商行", "50000", null),
        )
        val ids = customers.map { (name, sales, lon) ->
            val edits = mutableListOf(edit("basic.name", name), edit("territory", "east"))
            for (month in listOf("2026-08", "2026-09", "2026-10")) edits += edit("sales.$month", sales)
            if (lon != null) {
                edits += edit("location.lat", "31.2304")
                edits += edit("location.lon", lon)
            }
            phone.createCard(edits)
        }
        val abc = phone.abc("2026-11-15")
        assertEquals(listOf("2026-08", "2026-09", "2026-10"), abc.window)
        assertEquals(listOf("A", "A", "B", "C"), abc.entries.map { it.computed })
        assertEquals("上海华东食品有限公司", abc.entries.first().name)
        assertEquals(10_000L, abc.entries.last().cumulativeShareE4)

        val plan = phone.dayPlan("2026-11-15", 31.2304, 121.4737, false)
        assertEquals(listOf(ids[0], ids[2], ids[1]), plan.route.map { it.cardId }, "nearest first along the street")
        assertEquals(listOf("闵行日用品商行"), plan.unrouted.map { it.name })
        assertEquals(4, plan.due.size)
        assertTrue(plan.lengthM in 2_800.0..2_900.0, "about 2.86 km: ${plan.lengthM}")
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { phone.dayPlan(null, 95.0, 121.0, false) }.code)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { phone.abc("2026-13-01") }.code)
        phone.close()
    }

    @Test
    fun `the company's settings arrive with a sync and the phone follows them`() = runBlocking {
        val phone = phone("settings.db")
        phone.enrol(server.url, server.token("zhangwei", deviceName = "设置测试"))
        phone.sync(null)
        val defaults = phone.companySettings()
        assertEquals(0uL, defaults.revision)
        assertEquals(7u, defaults.visitDaysA)
        assertEquals(listOf(75u, 20u, 5u), defaults.abcPercent)
        assertEquals(1, server.setting("visits.interval_days_a", 3))
        phone.sync(null)
        val delivered = phone.companySettings()
        assertEquals(1uL, delivered.revision)
        assertEquals(3u, delivered.visitDaysA)
        assertTrue(delivered.json.contains("\"interval_days_a\":3"), delivered.json)
        phone.close()
    }

    @Test
    fun `bad input and bad states are typed exceptions, never a crash`() = runBlocking {
        val key = ByteArray(32) { it.toByte() }
        val path = dir.resolve("errors.db").toString()
        val phone = Fieldbook.open(path, key)
        phone.initRep("zhangwei")
        assertEquals("store.locked", assertThrows<FieldbookException.Storage> { Fieldbook.open(path, key) }.code)
        val id = phone.createCard(listOf(edit("basic.name", "上海华东客户服务有限公司")))
        val invalid = assertThrows<FieldbookException.InvalidInput> {
            phone.updateCard(id, listOf(edit("credit.credit_limit", "很多")))
        }
        assertEquals("input.invalid_value", invalid.code)
        assertEquals("credit.credit_limit", invalid.field)
        assertTrue(!invalid.reason.contains("很多"), "the message does not echo the input")
        assertEquals("input.unknown_field", assertThrows<FieldbookException.InvalidInput> { phone.updateCard(id, listOf(edit("nope.nope", "x"))) }.code)
        assertEquals("card.not_found", assertThrows<FieldbookException.NotFound> { phone.card("3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21") }.code)
        assertEquals("input.invalid_id", assertThrows<FieldbookException.InvalidInput> { phone.card("not-an-id") }.code)
        assertEquals("sync.not_enrolled", assertThrows<FieldbookException.Auth> { phone.sync(null) }.code)
        phone.closeStore()
        assertEquals("store.closed", assertThrows<FieldbookException.Storage> { phone.card(id) }.code)
        assertEquals("store.wrong_key", assertThrows<FieldbookException.WrongKey> { Fieldbook.open(path, ByteArray(32)) }.code)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { Fieldbook.open(path, ByteArray(5)) }.code)
        assertThrows<FieldbookException.Storage> { Fieldbook.open(dir.resolve("no/such/dir/x.db").toString(), null) }
        val reopened = Fieldbook.open(path, key)
        assertEquals("上海华东客户服务有限公司", reopened.card(id).name, "nothing was changed by the refusals")

        // A server that answers garbage, and callbacks that throw.
        reopened.enrol(server.url, server.token("zhangwei", deviceName = "错误测试"))
        reopened.setHttpClient(object : HttpClient {
            override fun post(request: HttpRequest) = HttpResponse(200u, "garbage".toByteArray())
        })
        assertEquals("sync.protocol", assertThrows<FieldbookException.Server> { reopened.sync(null) }.code)
        reopened.setHttpClient(object : HttpClient {
            override fun post(request: HttpRequest): HttpResponse = throw IllegalStateException("boom")
        })
        assertEquals("sync.network", assertThrows<FieldbookException.Network> { reopened.sync(null) }.code)
        reopened.setHttpClient(null)
        val thrown = assertThrows<FieldbookException.Internal> {
            reopened.sync(object : SyncListener {
                override fun onProgress(progress: SyncProgress) = throw IllegalStateException("listener")
            })
        }
        assertEquals("ffi.callback_failed", thrown.code)
        assertNotNull(reopened.status().lastSync, "what the sync applied before the throw stays")
        reopened.close()
    }

    @Test
    fun `an encrypted store has no plaintext and a plain one can be encrypted`() {
        val key = ByteArray(32) { (it * 7).toByte() }
        val path = dir.resolve("plain.db")
        val plain = Fieldbook.open(path.toString(), null)
        plain.initRep("zhangwei")
        plain.createCard(listOf(edit("basic.name", "苏州工业园区精密仪器")))
        plain.close()
        encryptStore(path.toString(), key)
        val bytes = Files.readAllBytes(path)
        assertTrue(!String(bytes, Charsets.ISO_8859_1).startsWith("SQLite format 3"))
        assertTrue(!bytes.toString(Charsets.UTF_8).contains("精密仪器"))
        val encrypted = Fieldbook.open(path.toString(), key)
        assertEquals(1, encrypted.search("精密仪器", 5u).size)
        assertTrue(cardSchema().any { it.path == "basic.phone" && it.kind == FieldType.TEXT })
        encrypted.close()
    }
}
