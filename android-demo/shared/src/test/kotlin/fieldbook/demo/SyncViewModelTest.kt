package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.HttpClient
import fieldbook.HttpRequest
import fieldbook.HttpResponse
import fieldbook.JavaNetClient
import fieldbook.TransportException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/** A transport that holds its next request until released, to see a sync mid-flight. */
class GateClient : HttpClient {
    private val inner = JavaNetClient()
    @Volatile var closed = false
    val entered = CountDownLatch(1)
    val release = CountDownLatch(1)

    override fun post(request: HttpRequest): HttpResponse {
        if (closed) {
            entered.countDown()
            release.await(60, TimeUnit.SECONDS)
        }
        return inner.post(request)
    }
}

/** The sync button's states, over real IO, against the live server. */
class SyncViewModelTest {
    private lateinit var phones: DemoPhones
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() {
        scope.cancel()
        phones.close()
    }

    @Test
    fun `a sync shows running, then its progress, summary and last-sync line`() = runBlocking {
        val book = phones.open("sync")
        val gate = GateClient()
        book.setHttpClient(gate)
        book.enrol(phones.server.url, phones.server.token("zhangwei", deviceName = "同步测试"))
        val session = FieldbookSession(book)
        val vm = SyncViewModel(session, scope)
        val idle = vm.state.awaitState { it.enrolled }
        assertNull(idle.lastSync, "never synced")
        assertNull(idle.progress)

        gate.closed = true
        val running = async(Dispatchers.IO) { vm.sync() }
        assertTrue(gate.entered.await(60, TimeUnit.SECONDS))
        val midFlight = vm.state.awaitState { it.running }
        assertNull(midFlight.progress, "no request has completed yet")
        assertNull(vm.sync(), "a second tap while running does nothing")
        // The store answers while the sync waits on the network.
        val offline = session.write { createCard(listOf(FieldEdit("basic.name", "嘉兴南湖文具"), FieldEdit("territory", "east"))) }
        gate.release.countDown()
        gate.closed = false

        val summary = running.await()!!
        assertEquals(20u, summary.cardsNew)
        val done = vm.state.awaitState { !it.running && it.lastSync != null }
        assertEquals(summary, done.lastSummary)
        assertEquals(summary.progress, done.progress, "the listener's last progress")
        assertEquals(20u, done.progress!!.cardsPulled)
        assertTrue(done.progress!!.requests >= 1u)
        assertEquals("新客户 20 张" + if (summary.pendingCards > 0u) " · 待上传 ${summary.pendingCards} 张" else "", done.summaryText)
        assertNull(done.message)
        assertNotNull(done.progressText)

        // The card made during the sync goes up with the next one.
        vm.sync()!!
        val pushed = vm.state.awaitState { !it.running && it.pendingCards == 0uL }
        assertTrue(pushed.lastSummary!!.progress.cardsPushed >= 1u)
        assertEquals("嘉兴南湖文具", book.card(offline).name)
    }

    @Test
    fun `a failed sync says why in Chinese, keeps the edits pending and the next one succeeds`() = runBlocking {
        val session = phones.synced("offline", "lina")
        val vm = SyncViewModel(session, scope)
        vm.state.awaitState { it.enrolled && it.lastSync != null }
        session.write { createCard(listOf(FieldEdit("basic.name", "天津和平区百货"), FieldEdit("territory", "north"))) }
        val pending = vm.state.awaitState { it.pendingCards == 1uL }
        val lastSync = pending.lastSync

        session.book.setHttpClient(object : HttpClient {
            override fun post(request: HttpRequest): HttpResponse = throw TransportException.Failed("no signal")
        })
        assertNull(vm.sync())
        val failed = vm.state.value
        assertEquals(MessageKind.NETWORK, failed.message!!.kind)
        assertEquals("无法连接同步服务器。修改已保存在本机，联网后会自动同步", failed.message!!.text)
        assertTrue(failed.message!!.retryable)
        assertEquals(1uL, failed.pendingCards, "the edit is kept")
        assertEquals(lastSync, failed.lastSync)

        session.book.setHttpClient(null)
        assertNotNull(vm.sync())
        val ok = vm.state.value
        assertNull(ok.message, "a good sync clears the failure")
        assertEquals(0uL, ok.pendingCards)
        assertTrue(ok.lastSync!! >= lastSync!!)
    }

    @Test
    fun `background sync retries on network trouble and stops when enrolment is needed`() = runBlocking {
        val fresh = FieldbookSession(phones.open("not-enrolled").also { it.initRep("chenjie") })
        val stop = BackgroundSync(fresh).runOnce()
        assertTrue(stop is BackgroundOutcome.Stop, "$stop")
        assertEquals(MessageKind.ENROL, (stop as BackgroundOutcome.Stop).message.kind)
        assertEquals("本机尚未登记，请输入主管提供的登记码后再同步", stop.message.text)

        val book = phones.open("background")
        book.enrol(phones.server.url, phones.server.token("chenjie", deviceName = "后台同步"))
        val session = FieldbookSession(book)
        book.setHttpClient(object : HttpClient {
            override fun post(request: HttpRequest): HttpResponse = throw TransportException.Failed("no signal")
        })
        val retry = BackgroundSync(session).runOnce()
        assertTrue(retry is BackgroundOutcome.Retry, "$retry")

        book.setHttpClient(null)
        val done = BackgroundSync(session).runOnce()
        assertEquals(20u, (done as BackgroundOutcome.Done).summary.cardsNew)
        assertEquals(20uL, book.status().cards)
    }
}
